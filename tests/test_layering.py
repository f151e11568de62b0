"""The layering of DESIGN.md, read from the source with ``ast``: one direction of imports.

Packages (installed under ``prefchat.`` by pyproject.toml's package-dir mapping), from top to bottom::

    prefchat (cli, api, settings, profiles, evaluation)  ->  anything
    ui         ->  assistant, elicitation, reward, storage
    research   ->  elicitation, reward                        (benchmark baselines)
    assistant  ->  elicitation, reward, storage
    default    ->  elicitation, reward                        (the embedded pack; built by ``prefchat pack default``)
    reward     ->  elicitation                                (validation runs the product's posterior)
    elicitation, storage  ->  nothing of prefchat's

Third-party libraries stay in their package: gradio in ui, SQLAlchemy and Alembic in storage,
torch and sentence-transformers in reward. Every import counts, also one inside a function or
under ``TYPE_CHECKING``. :func:`problems` returns what breaks the rules; a synthetic tree shows
that it finds a forbidden import and a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
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
ALLOWED = {  # package -> the packages it may import
    TOP: set(PACKAGES) - {TOP},
    "ui": {"assistant", "elicitation", "reward", "storage"},
    "research": {"elicitation", "reward"},
    "assistant": {"elicitation", "reward", "storage"},  # a server never trains: no default
    "default": {"elicitation", "reward"},
    "reward": {"elicitation"},
    "elicitation": set(),
    "storage": set(),
}
THIRD_PARTY = {  # library -> the only package that may import it
    "gradio": "ui",
    "sqlalchemy": "storage",
    "alembic": "storage",
    "torch": "reward",
    "sentence_transformers": "reward",
}
SERVING = ("prefchat.ui.app", "prefchat.assistant.api")
"""What the chat, the REST API and the Python API import from."""
OFF_SERVING = ("prefchat.research", "prefchat.ui.clusters", "prefchat.default", "prefchat.reward.build")
"""Modules no serving path may reach, even through an import inside a function: a server never
builds a pack (the default one included) nor trains."""


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


def imports(module: str, path: Path, known: set[str]) -> Iterator[tuple[str, int]]:
    """``(imported module, line)`` for every import in the file, resolved to absolute names.

    ``from A import b`` names the module ``A.b`` when that is a module of the tree, else ``A``.
    """
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                yield (f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base), node.lineno


def import_graph(root: Path) -> dict[str, list[tuple[str, int]]]:
    """Module -> the modules (prefchat's and third-party) it imports, with line numbers."""
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


def problems(root: Path) -> list[str]:
    """Every import of the tree at ``root`` that breaks the layering, and every cycle between packages."""
    graph = import_graph(root)
    found, package_edges = [], {package: set() for package in PACKAGES}
    for module, imported in graph.items():
        package, path = package_of(module), modules(root)[module].relative_to(root)
        for target, line in imported:
            library = target.split(".")[0]
            if library == TOP:
                other = package_of(target)
                if other != package:
                    package_edges[package].add(other)
                    if other not in ALLOWED[package]:
                        found.append(f"{path}:{line}: {package} imports {target} ({other} is above it or beside it)")
            elif library in THIRD_PARTY and THIRD_PARTY[library] != package:
                found.append(f"{path}:{line}: {package} imports {library}, which only {THIRD_PARTY[library]}/ may")
    for path, component in cycles(package_edges):
        among = f" (one cycle among {', '.join(sorted(component))})" if len(component) >= len(path) else ""
        found.append(f"import cycle between packages: {' -> '.join(path)}{among}")
    return found


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
        stack += [target for target, _ in graph[module]]
    return seen


def test_the_allowed_imports_have_no_cycle():
    assert cycles({package: set(targets) for package, targets in ALLOWED.items()}) == []


def test_every_folder_is_a_package_of_the_rules():
    assert set(ALLOWED) == set(PACKAGES) and set(THIRD_PARTY.values()) <= set(PACKAGES)
    folders = {str(path.parent.relative_to(ROOT)) for path in ROOT.glob("*/__init__.py")} | {
        str(path.parent.relative_to(ROOT)) for path in (ROOT / TOP).glob("*/__init__.py")
    }
    assert folders - {"tests"} == set(PACKAGES.values())


def test_the_source_tree_keeps_the_layering():
    assert problems(ROOT) == []


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
    assert len(found) == 5, found


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
    assert [target for target, _ in imports(module, path, known)] == [expected]


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
