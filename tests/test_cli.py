"""The command line stays light: ``--help`` of every command, and ``prefchat demo`` on a cached
default pack, import none of the heavy libraries. A test of imports, not of time
(``bench/bench_cli.py`` measures the time)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from prefchat.cli import build_parser

HEAVY = {"gradio", "torch", "pandas", "sqlalchemy", "alembic", "scipy", "sentence_transformers", "transformers"}
REPORT = "import json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {heavy!r})))\n"


def command_paths(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command of the parser, as the words that name it: ``()``, ``("train",)``, ``("pack", "movielens")``, ..."""
    found = [path]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                found += command_paths(subparser, (*path, name))
    return found


COMMANDS = command_paths(build_parser())


def heavy_modules_of(code: str, env: dict[str, str] | None = None) -> list[str]:
    """The heavy libraries a fresh interpreter holds after running ``code``."""
    script = code + "\n" + REPORT.format(heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_command_is_found():
    assert {("train",), ("pack", "movielens"), ("eval",), ("profiles", "export"), ("serve",), ("demo",), ("analyst",)} <= set(COMMANDS)


@pytest.mark.parametrize("words", COMMANDS, ids=lambda words: " ".join(words) or "prefchat")
def test_help_imports_no_heavy_library(words):
    code = (
        "import runpy, sys, contextlib, io\n"
        f"sys.argv = ['prefchat', *{list(words)!r}, '--help']\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    runpy.run_module('prefchat.cli', run_name='__main__')\n"
    )
    assert heavy_modules_of(code) == []


def test_eval_help_names_every_protocol_and_the_flags_check_names_when_parsed(capsys):
    from prefchat.elicitation.evaluate import STRATEGY_NAMES
    from prefchat.elicitation.respondents import PROTOCOLS

    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["eval", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert all(protocol in shown for protocol in (*PROTOCOLS, "simulated")) and "--through-api" in shown
    base = ["eval", "--pack", "p", "--json", "o.json"]
    args = parser.parse_args([*base, "--protocol", "implicit"])
    assert args.strategies == ["population", "popularity", "random", "active", "pref-reference", "oracle"]
    assert set(args.strategies) <= set(STRATEGY_NAMES) and args.through_api is False
    assert parser.parse_args([*base, "--protocol", "simulated", "--through-api"]).through_api is True
    with pytest.raises(SystemExit):
        parser.parse_args([*base, "--protocol", "guessed"])
    assert "unknown protocol 'guessed'; known: explicit, implicit, simulated" in capsys.readouterr().err


def test_demo_on_a_cached_default_pack_imports_no_torch(tmp_path, assistant_fixtures):
    """``prefchat demo`` up to the server's start: the cached pack is loaded, the app built, and
    neither torch nor the sentence model's libraries are imported."""
    from prefchat.default.build import NAME, source_digest
    from prefchat.reward.pack import save_pack

    model = "unused-model-name"
    pack = assistant_fixtures.tiny_pack(name=NAME)
    save_pack(replace(pack, manifest={**pack.manifest, "data": {"source_digest": source_digest(model)}}), tmp_path / "packs" / NAME)
    env = {**os.environ, "PREFCHAT_HOME": str(tmp_path), "PREFCHAT_EMBEDDING_MODEL": model}
    code = (
        "import uvicorn\n"
        "uvicorn.Server.run = lambda self, sockets: sockets[0].close()\n"  # everything but serving
        "from prefchat.cli import main\n"
        "assert main(['demo', '--port', '0']) == 0\n"
        "assert 'gradio' in sys.modules and 'prefchat.ui.chat' in sys.modules\n"
    )
    imported = heavy_modules_of("import sys\n" + code, env)
    assert "gradio" in imported  # the app was built
    assert not {"torch", "sentence_transformers", "transformers"} & set(imported)


def test_pack_default_reports_an_up_to_date_pack_and_builds_nothing(tmp_path, assistant_fixtures, capsys, monkeypatch):
    """``prefchat pack default`` is the explicit step that builds the demo's pack; on a pack built from
    today's sources it says so and trains nothing."""
    import prefchat.default.build
    from prefchat.cli import main
    from prefchat.default.build import NAME, source_digest
    from prefchat.reward.pack import save_pack

    model = "unused-model-name"
    pack = assistant_fixtures.tiny_pack(name=NAME)
    save_pack(replace(pack, manifest={**pack.manifest, "data": {"source_digest": source_digest(model)}}), tmp_path / "packs" / NAME)
    monkeypatch.setenv("PREFCHAT_HOME", str(tmp_path))
    monkeypatch.setenv("PREFCHAT_EMBEDDING_MODEL", model)
    monkeypatch.setattr(prefchat.default.build, "build_default_pack", lambda *args, **kwargs: pytest.fail("trained"))
    assert main(["pack", "default"]) == 0
    assert capsys.readouterr().out.strip() == f"the default pack in {tmp_path / 'packs' / NAME} is up to date"
