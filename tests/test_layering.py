"""The layering of DESIGN.md, read from the source with ``ast``: one direction of imports.

Packages (installed under ``prefchat.`` by pyproject.toml's package-dir mapping); README.md's
"Where things live" states the same DAG (:func:`test_the_readme_states_the_dag_of_this_test`)::

    prefchat -> ui, default, research
    ui -> assistant
    assistant -> elicitation, reward, storage
    reward -> elicitation
    default -> reward, elicitation
    research -> reward, elicitation

``prefchat`` is the CLI, the public API, ``prefchat eval`` and the settings; ``default`` the embedded
domain, built by an explicit step (``prefchat demo``, ``prefchat pack default``), never by a server;
``research`` the baselines only benchmarks use. A package may import what the DAG reaches from it
(ui may use elicitation directly), nothing else.

Third-party libraries stay in their package: gradio and scikit-learn in ui, SQLAlchemy and Alembic
in storage, torch and sentence-transformers in reward, implicit in elicitation. Every import counts, also one inside a function or
under ``TYPE_CHECKING``. And no module takes part in an import cycle through the imports run when
it is loaded (module level, class bodies) or read by type checkers (``if TYPE_CHECKING:``): an
import inside a function is the only lazy one. :func:`problems` returns what breaks the rules,
from the source tree or from a synthetic one.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP = "prefchat"
PACKAGES = {  # package -> its folder, relative to the repository root
    TOP: "prefchat",
    "default": "prefchat/default",
    "research": "prefchat/research",
    "ui": "ui",
    "assistant": "assistant",
    "elicitation": "elicitation",
    "reward": "reward",
    "storage": "storage",
}
DAG = {  # package -> the packages it imports directly (the module docstring's DAG)
    TOP: {"ui", "default", "research"},
    "ui": {"assistant"},
    "assistant": {"elicitation", "reward", "storage"},
    "reward": {"elicitation"},
    "default": {"reward", "elicitation"},
    "research": {"reward", "elicitation"},
    "elicitation": set(),
    "storage": set(),
}


def reach(dag: dict[str, set[str]]) -> dict[str, set[str]]:
    """Package -> every package the DAG reaches from it (its transitive closure)."""
    closure = {}
    for start in dag:
        seen, stack = set(), list(dag[start])
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack += dag[node]
        closure[start] = seen
    return closure


ALLOWED = reach(DAG)
"""Package -> the packages it may import."""
THIRD_PARTY = {  # library -> the only package that may import it
    "gradio": "ui",
    "sqlalchemy": "storage",
    "alembic": "storage",
    "torch": "reward",
    "sentence_transformers": "reward",
    "implicit": "elicitation",
    "sklearn": "ui",
}
SERVING = ("prefchat.ui.app", "prefchat.assistant.api")
"""What the chat, the REST API and the Python API import from."""
OFF_SERVING = ("prefchat.research", "prefchat.ui.clusters", "prefchat.default", "prefchat.reward.build",
               "prefchat.reward.calibration")
"""Modules no serving path may reach, even through an import inside a function: a server never
builds a pack (the default one included), trains, nor chooses a pack's weights."""


def modules(root: Path) -> dict[str, Path]:
    """Every module of the tree: dotted name as installed (``prefchat.ui.chat``) -> file."""
    found = {}
    for package, folder in PACKAGES.items():
        base = TOP if package == TOP else f"{TOP}.{package}"
        for path in sorted((root / folder).rglob("*.py")):
            parts = path.relative_to(root / folder).with_suffix("").parts
            if package == TOP and parts[0] in PACKAGES:  # prefchat/default/... belongs to default
                continue
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            found[".".join((base, *parts))] = path
    return found


def package_of(module: str) -> str:
    """The package a prefchat module belongs to: ``prefchat.ui.chat`` -> ``ui``, ``prefchat.cli`` -> ``prefchat``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in PACKAGES else TOP


@dataclass(frozen=True)
class Import:
    """One import statement's module, resolved to its absolute name."""

    target: str
    line: int
    lazy: bool
    """Inside a function: run when the function is called, not when the module is loaded."""


def imports(module: str, path: Path, known: set[str]) -> Iterator[Import]:
    """Every import in the file, resolved to absolute names.

    ``from A import b`` names the module ``A.b`` when that is a module of the tree, else ``A``.
    An import under ``if TYPE_CHECKING:`` is not lazy: type checkers read it as loaded.
    """
    is_package = path.name == "__init__.py"
    stack: list[tuple[ast.AST, bool]] = [(ast.parse(path.read_text(encoding="utf-8"), str(path)), False)]
    while stack:
        node, lazy = stack.pop()
        lazy = lazy or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        stack += [(child, lazy) for child in ast.iter_child_nodes(node)]
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, node.lineno, lazy)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                yield Import(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base, node.lineno, lazy)


def import_graph(root: Path) -> dict[str, list[Import]]:
    """Module -> the modules (prefchat's and third-party) it imports."""
    found = modules(root)
    return {module: list(imports(module, path, set(found))) for module, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[tuple[list[str], set[str]]]:
    """The cycles of a directed graph, one per strongly connected component (the nodes that all
    reach each other): a closed path ``[a, b, ..., a]`` through the component, and the component."""
    found, seen = [], set()
    for start in sorted(edges):
        if start in seen:
            continue
        reach_back = {start}  # nodes from which start can be reached, within the component
        changed = True
        while changed:
            changed = False
            for node, targets in edges.items():
                if node not in reach_back and targets & reach_back:
                    reach_back.add(node)
                    changed = True
        forward, stack = set(), [start]
        while stack:
            for target in edges.get(stack.pop(), set()):
                if target not in forward:
                    forward.add(target)
                    stack.append(target)
        component = forward & reach_back
        seen |= component
        if component:
            path, node = [start], start
            while True:  # walk inside the component back to start
                node = min(t for t in edges[node] if t in component)
                if node in path:
                    path = path[path.index(node):] + [node]
                    break
                path.append(node)
            found.append((path, component))
    return found


def check(graph: dict[str, list[Import]], files: dict[str, str] | None = None) -> list[str]:
    """Every import of ``graph`` (module -> its imports) that breaks the layering, every cycle
    between packages, and every cycle between modules through imports that are not lazy.
    A problem is located by ``files[module]`` (default: the module's name) and the line."""
    files = files or {}
    found: list[str] = []
    package_edges: dict[str, set[str]] = {package: set() for package in PACKAGES}
    for module, imported in graph.items():
        package, where = package_of(module), files.get(module, module)
        for statement in imported:
            target, line = statement.target, statement.line
            library = target.split(".")[0]
            if library == TOP:
                other = package_of(target)
                if other != package:
                    package_edges[package].add(other)
                    if other not in ALLOWED[package]:
                        found.append(f"{where}:{line}: {package} imports {target} ({other} is above it or beside it)")
            elif library in THIRD_PARTY and THIRD_PARTY[library] != package:
                found.append(f"{where}:{line}: {package} imports {library}, which only {THIRD_PARTY[library]}/ may")
    loaded = {module: {i.target for i in imported if not i.lazy and i.target in graph} for module, imported in graph.items()}
    for between, edges in (("packages", package_edges), ("modules", loaded)):
        for path, component in cycles(edges):
            among = f" (one cycle among {', '.join(sorted(component))})" if len(component) >= len(path) else ""
            found.append(f"import cycle between {between}: {' -> '.join(path)}{among}")
    return found


def problems(root: Path) -> list[str]:
    """:func:`check` of the tree at ``root``, each problem located by its file."""
    files = {module: str(path.relative_to(root)) for module, path in modules(root).items()}
    return check(import_graph(root), files)


def reachable(root: Path, starts: tuple[str, ...]) -> set[str]:
    """The prefchat modules that importing ``starts`` can load, following every import."""
    graph, seen = import_graph(root), set()
    stack = [module for module in starts]
    while stack:
        module = stack.pop()
        if module in seen or module not in graph:
            continue
        seen.add(module)
        parts = module.split(".")
        stack += [".".join(parts[:i]) for i in range(2, len(parts))]  # importing a.b.c runs a.b first
        stack += [statement.target for statement in graph[module]]
    return seen


def test_the_allowed_imports_have_no_cycle():
    assert cycles({package: set(targets) for package, targets in ALLOWED.items()}) == []


def test_every_folder_is_a_package_of_the_rules():
    assert set(ALLOWED) == set(PACKAGES) and set(THIRD_PARTY.values()) <= set(PACKAGES)
    folders = {str(path.parent.relative_to(ROOT)) for path in ROOT.glob("*/__init__.py")} | {
        str(path.parent.relative_to(ROOT)) for path in (ROOT / TOP).glob("*/__init__.py") if not path.parent.is_symlink()
    }
    assert folders - {"tests"} == set(PACKAGES.values())


def test_the_checkout_links_the_card_folders_into_the_package():
    """prefchat/ui -> ../ui, ...: from the checkout, static tools and ``python`` see the installed layout."""
    at_root = {package for package, folder in PACKAGES.items() if "/" not in folder and package != TOP}
    for package in at_root:
        link = ROOT / TOP / package
        assert link.is_symlink() and link.readlink() == Path("..", package), link
    assert {path.name for path in (ROOT / TOP).iterdir() if path.is_symlink()} == at_root


def test_the_source_tree_keeps_the_layering():
    assert problems(ROOT) == []


def test_the_readme_states_the_dag_of_this_test():
    section = re.search(r"^## Where things live\n(.*?)^## ", (ROOT / "README.md").read_text(encoding="utf-8"), re.S | re.M)
    stated = {top: set(re.split(r",\s*", below)) for top, below in re.findall(r"^    (\w+) -> (.+)$", section.group(1), re.M)}
    assert stated == {package: targets for package, targets in DAG.items() if targets}


def test_no_serving_path_reaches_the_research_baselines_the_clusters_or_pack_building():
    serving = reachable(ROOT, SERVING)
    assert {"prefchat.ui.chat", "prefchat.ui.rest", "prefchat.assistant.session"} <= serving  # the walk works
    assert sorted(m for m in serving if m.startswith(OFF_SERVING)) == []
    assert "prefchat.ui.clusters" in reachable(ROOT, ("prefchat.ui.analyst",))


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for folder in PACKAGES.values():
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "__init__.py").touch()
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_a_clean_synthetic_tree_has_no_problems(tmp_path):
    root = write_tree(tmp_path, {
        "ui/chat.py": "import gradio\nfrom ..assistant import session\n",
        "assistant/session.py": "from ..reward.pack import Pack\nfrom ..storage import Store\n",
        "reward/pack.py": "import torch\nfrom ..elicitation.posterior import laplace_posterior\n",
        "prefchat/cli.py": "from .ui import chat\nfrom . import api\n",
        "prefchat/api.py": "from .assistant.session import Conversation\n",
    })
    assert problems(root) == []


def test_a_forbidden_import_and_a_cycle_are_reported(tmp_path):
    root = write_tree(tmp_path, {
        "reward/pack.py": "from ..elicitation.posterior import laplace_posterior\n",
        # elicitation -> reward is forbidden, and with reward -> elicitation it closes a cycle
        "elicitation/posterior.py": "def laplace_posterior():\n    from ..reward import pack\n",
        # a library outside its package, imported inside a function
        "assistant/session.py": "def embed():\n    import torch.nn\n",
        # the top package imported from below, by absolute name
        "storage/records.py": "from prefchat.api import Assistant\n",
        "prefchat/api.py": "from .storage import records\n",
    })
    found = problems(root)
    assert "elicitation/posterior.py:2: elicitation imports prefchat.reward.pack (reward is above it or beside it)" in found
    assert "assistant/session.py:2: assistant imports torch, which only reward/ may" in found
    assert "storage/records.py:1: storage imports prefchat.api (prefchat is above it or beside it)" in found
    assert "import cycle between packages: elicitation -> reward -> elicitation" in found
    assert "import cycle between packages: prefchat -> storage -> prefchat" in found
    assert "import cycle between modules: prefchat.api -> prefchat.storage.records -> prefchat.api" in found
    assert len(found) == 6, found


def test_a_planted_assistant_to_default_import_is_reported(tmp_path):
    root = write_tree(tmp_path, {"assistant/packs.py": "def resolve():\n    from ..default.build import ensure_default_pack\n"})
    assert problems(root) == ["assistant/packs.py:2: assistant imports prefchat.default.build (default is above it or beside it)"]


@pytest.mark.parametrize("guard", ["from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n", "try:\n", "class Handlers:\n"])
def test_a_module_cycle_within_a_package_is_reported_even_when_hidden(tmp_path, guard):
    root = write_tree(tmp_path, {
        "assistant/replies.py": guard + "    from .session import Conversation\n" + ("except ImportError:\n    pass\n" if guard == "try:\n" else ""),
        "assistant/session.py": "from .replies import HANDLERS\n",
    })
    assert problems(root) == ["import cycle between modules: prefchat.assistant.replies -> prefchat.assistant.session -> prefchat.assistant.replies"]


def test_an_import_inside_a_function_closes_no_module_cycle(tmp_path):
    root = write_tree(tmp_path, {
        "assistant/replies.py": "def handle():\n    from .session import Conversation\n",
        "assistant/session.py": "from .replies import HANDLERS\n",
    })
    assert problems(root) == []


def test_the_checker_takes_an_import_graph():
    graph = {
        "prefchat.reward.a": [Import("prefchat.reward.b", 1, lazy=False)],
        "prefchat.reward.b": [Import("prefchat.reward.c", 2, lazy=False)],
        "prefchat.reward.c": [Import("prefchat.reward.a", 3, lazy=False), Import("prefchat.ui.chat", 4, lazy=True)],
    }
    assert check(graph) == [
        "prefchat.reward.c:4: reward imports prefchat.ui.chat (ui is above it or beside it)",
        "import cycle between modules: prefchat.reward.a -> prefchat.reward.b -> prefchat.reward.c -> prefchat.reward.a",
    ]


@pytest.mark.parametrize(("module", "line", "expected"), [
    ("prefchat.ui.chat", "from ..assistant.session import Conversation", "prefchat.assistant.session"),
    ("prefchat.ui.chat", "from .. import __version__", "prefchat"),
    ("prefchat.ui", "from .chat import mount_chat", "prefchat.ui.chat"),
    ("prefchat.cli", "from . import evaluation", "prefchat.evaluation"),
    ("prefchat.cli", "from .ui import commands", "prefchat.ui.commands"),
])
def test_relative_imports_resolve_to_installed_names(tmp_path, module, line, expected):
    path = tmp_path / ("__init__.py" if module == "prefchat.ui" else "m.py")
    path.write_text(line + "\n", encoding="utf-8")
    known = {"prefchat.evaluation", "prefchat.ui.commands", "prefchat.ui.chat"}
    assert [statement.target for statement in imports(module, path, known)] == [expected]


def manifest_reads(root: Path) -> list[str]:
    """``file:line`` of every read of a pack's ``.manifest`` outside reward/ (typed ``Pack`` properties serve them)."""
    found = []
    for module, path in modules(root).items():
        if package_of(module) == "reward":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "manifest" and isinstance(node.ctx, ast.Load):
                found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_only_reward_reads_a_packs_manifest():
    assert manifest_reads(ROOT) == []


def test_a_manifest_read_outside_reward_is_reported(tmp_path):
    read = "def beta(pack):\n    return pack.manifest['hyperparameters']['beta']\n"
    files = {"assistant/engine.py": read, "reward/pack.py": read}
    assert manifest_reads(write_tree(tmp_path, files)) == ["assistant/engine.py:2"]
