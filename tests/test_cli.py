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
    assert args.protocol == "watch"  # the old names of the two protocols still run, as the objectives they are
    assert parser.parse_args([*base, "--protocol", "explicit"]).protocol == "prefer"
    assert args.strategies == ["population", "popularity", "random", "active", "pref-reference", "oracle"]
    assert set(args.strategies) <= set(STRATEGY_NAMES) and args.through_api is False
    assert parser.parse_args([*base, "--protocol", "simulated", "--through-api"]).through_api is True
    with pytest.raises(SystemExit):
        parser.parse_args([*base, "--protocol", "guessed"])
    assert "unknown protocol 'guessed'; known: prefer, watch, simulated (explicit = prefer, implicit = watch)" in capsys.readouterr().err


def test_demo_on_a_cached_default_pack_imports_no_torch(tmp_path, small_pack):
    """``prefchat demo`` up to the server's start: the cached pack is loaded, the app built, and
    neither torch nor the sentence model's libraries are imported."""
    from prefchat.default.build import NAME, source_digest
    from prefchat.reward.pack import save_pack

    model = "unused-model-name"
    pack = small_pack(manifest={"name": NAME})
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


def test_pack_default_reports_an_up_to_date_pack_and_builds_nothing(tmp_path, small_pack, capsys, monkeypatch):
    """``prefchat pack default`` is the explicit step that builds the demo's pack; on a pack built from
    today's sources it says so and trains nothing."""
    import prefchat.default.build
    from prefchat.cli import main
    from prefchat.default.build import NAME, source_digest
    from prefchat.reward.pack import save_pack

    model = "unused-model-name"
    pack = small_pack(manifest={"name": NAME})
    save_pack(replace(pack, manifest={**pack.manifest, "data": {"source_digest": source_digest(model)}}), tmp_path / "packs" / NAME)
    monkeypatch.setenv("PREFCHAT_HOME", str(tmp_path))
    monkeypatch.setenv("PREFCHAT_EMBEDDING_MODEL", model)
    monkeypatch.setattr(prefchat.default.build, "build_default_pack", lambda *args, **kwargs: pytest.fail("trained"))
    assert main(["pack", "default"]) == 0
    assert capsys.readouterr().out.strip() == f"the default pack in {tmp_path / 'packs' / NAME} is up to date"


def test_the_analyst_without_a_login_refuses_before_loading_anything_heavy(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFCHAT_ANALYST")} | {"PREFCHAT_HOME": str(tmp_path)}
    code = "from prefchat.cli import main\nassert main(['analyst']) == 2\n"
    assert heavy_modules_of(code, env) == []


def test_a_bad_setting_is_one_line_naming_it(tmp_path, capsys, monkeypatch):
    from prefchat.cli import main

    monkeypatch.setenv("PREFCHAT_API_TOKEN", "short")
    assert main(["info", "--pack", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("prefchat: error: PREFCHAT_API_TOKEN:") and err.count("\n") == 1 and "short" not in err


def test_help_says_where_to_start(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    shown = capsys.readouterr().out
    assert "start here:" in shown and "prefchat demo " in shown and "prefchat info --pack default" in shown


def test_info_reads_as_lines_and_names_an_axis_no_descriptor_fits(tmp_path, small_pack, capsys):
    from prefchat.cli import axis_line, main
    from prefchat.reward.pack import Axis, save_pack

    pack = small_pack(manifest={"name": "tiny"})
    trained = {"data": {"skipped": {}}, "split": {"train": ["u1", "u2"], "validation": ["u3"], "test": ["u4"]}}
    save_pack(replace(pack, manifest={**pack.manifest, **trained}), tmp_path / "tiny")
    assert main(["info", "--pack", str(tmp_path / "tiny")]) == 0
    shown = capsys.readouterr().out
    assert shown.splitlines()[1].startswith("pack tiny 1: 60 items, K=4 learned bases + 2 population coordinates")
    assert "  axis 0: + comedy  |  - drama" in shown and not shown.lstrip().startswith("{")
    assert main(["info", "--pack", str(tmp_path / "tiny"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_items"] == 60
    assert axis_line(Axis(0, 'like "A" vs like "B"', (), ())) == 'like "A" vs like "B"'


def test_training_before_a_cut_reads_only_earlier_ratings_and_records_the_cut(tmp_path, monkeypatch):
    """``prefchat train --before DATE``: the date reaches the ratings reader and the pack's provenance."""
    import types

    seen = {}

    def load_dataset(items, ratings, pairs, before=None):
        seen["before"] = before
        return "dataset"

    def build_pack(dataset, out, *args, **kwargs):
        seen["provenance"] = kwargs["provenance"]
        return "pack"

    monkeypatch.setattr("prefchat.reward.data.load_dataset", load_dataset)
    monkeypatch.setattr("prefchat.reward.build.build_pack", build_pack)
    monkeypatch.setattr("prefchat.cli._print_training_report", lambda pack: None)
    args = build_parser().parse_args(["train", "--items", "items.csv", "--ratings", "ratings.csv", "--out",
                                      str(tmp_path / "pack"), "--before", "2015-01-01"])
    assert args.run(args, types.SimpleNamespace(embedding_model="unused", cache_dir=tmp_path)) == 0
    assert seen["before"] == seen["provenance"]["before"] == 1420070400.0
