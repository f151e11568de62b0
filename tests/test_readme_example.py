"""The Python API example runs as written: README.md's first ```python block after "## Python API",
or, until the README has that section, the example in prefchat.api's docstring.

It runs on the small synthetic pack of tests/conftest.py (standing in for "default") with the fake
embedder, in a temporary directory (its SQLite file is relative).
"""

import re
import textwrap
from pathlib import Path

import prefchat.api
import prefchat.assistant.api
from prefchat.reward.pack import save_pack

ROOT = Path(__file__).resolve().parents[1]


def python_api_example() -> str:
    readme = ROOT / "README.md"
    if readme.is_file():
        section = re.search(r"^## Python API\n(.*?)(?=^## |\Z)", readme.read_text(encoding="utf-8"), re.S | re.M)
        block = section and re.search(r"```python\n(.*?)```", section.group(1), re.S)
        if block:
            return block.group(1)
    docstring = prefchat.api.__doc__
    example = re.search(r"Example::\n\n(.*?)\n\n(?=\S)", docstring or "", re.S)
    assert example is not None, "neither README.md nor prefchat.api's docstring holds the example"
    return textwrap.dedent(example.group(1))


def test_the_python_api_example_runs(tmp_path, monkeypatch, capsys, small_pack, embed):
    pack_dir = save_pack(small_pack(), tmp_path / "small")
    resolved = []

    def resolve(spec, settings):
        resolved.append(spec)
        return pack_dir

    monkeypatch.setattr(prefchat.assistant.api, "resolve_pack", resolve)
    monkeypatch.setattr(prefchat.assistant.api, "pack_embedder", lambda *args: embed)
    monkeypatch.chdir(tmp_path)

    example = python_api_example()
    exec(compile(example, "python-api-example", "exec"), {})

    out = capsys.readouterr().out
    assert resolved == ["default"]
    assert "1 of about 10" in out and "answers (" in out
    assert (tmp_path / "prefchat.sqlite").is_file()
