"""One vocabulary: the four answers are defined once, in the posterior, and every layer speaks them;
a type has one name in the whole package, and a name one meaning."""

import ast
import re
import typing
from collections import defaultdict
from pathlib import Path

from prefchat.elicitation.posterior import CHOICES
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


def test_in_the_assistant_engine_is_no_name():
    """The engine is SQLAlchemy's (storage's word); the assistant's objects are a Conversation, an
    Assistant, a Recommender, never "the engine"."""
    named = []
    for path, tree in sources().items():
        if path.relative_to(ROOT).parts[0] != "assistant":
            continue
        for node in ast.walk(tree):
            names = ([node.arg] if isinstance(node, ast.arg) else [node.id] if isinstance(node, ast.Name)
                     else [node.attr] if isinstance(node, ast.Attribute) else [])
            named += [f"{path.name}:{node.lineno}" for name in names if name == "engine"]
        docstrings = [ast.get_docstring(n) or "" for n in ast.walk(tree)
                      if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef)]
        named += [f"{path.name}: docstring" for text in docstrings if re.search(r"\bengines?\b", text, re.IGNORECASE)]
    assert named == []
