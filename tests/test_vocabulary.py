"""One vocabulary: the four answers are defined once, in the posterior, and every layer speaks them;
a type has one name in the whole package, and a name one meaning (the engine is SQLAlchemy's, an
Assistant is no conversation, a protocol is named as its objective)."""

import ast
import re
import typing
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from prefchat.cli import PROTOCOL_ALIASES
from prefchat.elicitation.posterior import CHOICES
from prefchat.elicitation.respondents import PROTOCOLS
from prefchat.reward.serving import OBJECTIVES
from prefchat.storage import PAIRWISE_CHOICES
from prefchat.ui.schemas import Choice

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("assistant", "elicitation", "reward", "storage", "ui", "prefchat")


def test_the_four_answers_are_those_of_the_posterior_in_every_layer():
    assert CHOICES == ("a", "b", "tie", "skip")
    assert PAIRWISE_CHOICES == CHOICES  # storage cannot import elicitation: it checks the same four
    assert typing.get_args(Choice) == CHOICES  # the REST schema spells them as a Literal for OpenAPI


def sources() -> dict[Path, ast.Module]:
    return {path: ast.parse(path.read_text(encoding="utf-8")) for folder in FOLDERS
            for path in sorted((ROOT / folder).rglob("*.py")) if "migrations" not in path.parts}


def type_names(tree: ast.Module) -> list[str]:
    """The public classes and type aliases a module defines at its top level."""
    names = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name[:1].isupper() and not name.isupper():  # CamelCase: an alias such as Handler, not a CONSTANT
                names.append(name)
    return [name for name in names if not name.startswith("_")]


def test_a_type_has_one_name_and_a_name_one_type():
    """"SessionState" named a storage Literal and the assistant's rebuilt session, "Turn" a stored
    question and the turns the assistant returns, "Items" a pack's lazy catalog and an input table."""
    defined = defaultdict(list)
    for path, tree in sources().items():
        for name in type_names(tree):
            defined[name].append(str(path.relative_to(ROOT)))
    assert {name: where for name, where in defined.items() if len(where) > 1} == {}


def names_in(tree: ast.Module) -> Iterator[tuple[str, int]]:
    """Every name a module binds or reads (arguments, variables, attributes), with its line."""
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            yield node.arg, node.lineno
        elif isinstance(node, ast.Name):
            yield node.id, node.lineno
        elif isinstance(node, ast.Attribute):
            yield node.attr, node.lineno


def test_in_the_assistant_and_the_apps_engine_is_no_name():
    """The engine is SQLAlchemy's (storage's word); the assistant's objects are a Conversation, an
    Assistant, a Recommender, never "the engine", and the apps (ui) serve an Assistant."""
    named = []
    for path, tree in sources().items():
        if path.relative_to(ROOT).parts[0] not in ("assistant", "ui"):
            continue
        named += [f"{path.name}:{line}" for name, line in names_in(tree) if name == "engine"]
        docstrings = [ast.get_docstring(n) or "" for n in ast.walk(tree)
                      if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef)]
        named += [f"{path.name}: docstring" for text in docstrings if re.search(r"\bengines?\b", text, re.IGNORECASE)]
    assert named == []


def test_the_apps_call_an_assistant_an_assistant():
    """"conversation" is the session lifecycle's name (:class:`~prefchat.assistant.session.Conversation`);
    what the chat and the REST API serve is an :class:`~prefchat.assistant.api.Assistant`, named so."""
    named = [f"{path.name}:{line}" for path, tree in sources().items() if path.relative_to(ROOT).parts[0] == "ui"
             for name, line in names_in(tree) if name == "conversation"]
    assert named == []


def test_a_protocol_is_named_as_the_objective_it_simulates():
    """prefer/watch and explicit/implicit named the same split: the ratings protocols are the
    session objectives, and the old names live only as the command line's aliases."""
    assert PROTOCOLS == OBJECTIVES
    assert PROTOCOL_ALIASES == {"explicit": "prefer", "implicit": "watch"}
    said = [f"{path.relative_to(ROOT)}:{node.lineno}" for path, tree in sources().items() for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and node.value in ("explicit", "implicit")]
    assert said == ["prefchat/cli.py:" + str(alias_line())] * 2


def alias_line() -> int:
    """The line of :data:`prefchat.cli.PROTOCOL_ALIASES`, the one place the old names are said."""
    tree = ast.parse((ROOT / "prefchat" / "cli.py").read_text(encoding="utf-8"))
    return next(node.lineno for node in tree.body if isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "PROTOCOL_ALIASES" for t in node.targets))
