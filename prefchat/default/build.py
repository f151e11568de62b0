"""Build the embedded default pack, "assistant styles", from files inside prefchat.

The pack is trained like any other (``prefchat train``) on the responses' TEXT and the
SIMULATED population's choices; the style annotations are never features. It is built on
an explicit step, ``prefchat pack default`` (run by ``scripts/install.sh``; ``prefchat demo`` and
every command given ``--pack default`` run it too), into ``$PREFCHAT_HOME/packs/default``, and
rebuilt when its sources change: the prompt files, the code that reads and writes them (titles
included), the simulation settings, the embedding model or prefchat's version. A server only loads it (:mod:`prefchat.assistant.packs`): it never trains.

The held-out prompts and their responses travel in the pack's provenance (``showcase``), so that
the chat can show what it would answer there without reading this package.

Only building imports the training code (and torch): an up-to-date pack is found without it.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from importlib import metadata, resources
from pathlib import Path

from ..reward.featurize import model_checksum
from ..reward.pack import Pack, PackError, load_pack
from . import domain as domain_module
from . import population as population_module
from .domain import PROMPTS_DIR, load_domain
from .population import simulate_population, write_training_csvs

NAME = "default"
N_USERS = 1200
PAIRS_PER_USER = 40
SEED = 0
VOCABULARY = "styles"
"""The descriptor vocabulary (``reward/vocabularies/styles.txt``); its text is part of the digest."""


def source_digest(model: str) -> str:
    """SHA-256 over everything the default pack is built from."""
    version = metadata.version("prefchat")
    digest = hashlib.sha256(f"{version}|{N_USERS}|{PAIRS_PER_USER}|{SEED}|{model_checksum(model)}".encode())
    for path in sorted(PROMPTS_DIR.glob("*.json")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    for module in (domain_module, population_module):  # how the catalog is read and written: its titles, say
        digest.update(Path(module.__file__ or "").read_bytes())
    digest.update((resources.files("prefchat.reward") / "vocabularies" / f"{VOCABULARY}.txt").read_bytes())
    return digest.hexdigest()


def build_default_pack(out: Path, model: str, cache_dir: Path | None, progress: bool = False) -> Pack:
    """Simulate the population, write the training files and train the pack into ``out``."""
    from ..reward.build import build_pack
    from ..reward.data import load_dataset

    domain = load_domain()
    population = simulate_population(domain, n_users=N_USERS, pairs_per_user=PAIRS_PER_USER, seed=SEED)
    with tempfile.TemporaryDirectory(prefix="prefchat-default-") as work:
        items, pairs = write_training_csvs(domain, work, population)
        dataset = load_dataset(items, pairs=pairs)
        return build_pack(
            dataset, out, model, cache_dir, name=NAME, seed=SEED, vocabulary=VOCABULARY, progress=progress,
            provenance={
                "domain": "assistant styles (written for prefchat)",
                "population": population.provenance(),
                "heldout_prompts": [domain.prompts[p].prompt_id for p in domain.heldout_prompts],
                "showcase": [{"prompt": domain.prompts[p].text, "responses": [domain.texts[r] for r in domain.responses_of(p)]}
                             for p in domain.heldout_prompts],
                "source_digest": source_digest(model),
            },
        )


def is_current(out: Path, model: str) -> bool:
    """Whether ``out`` holds a default pack built from today's sources for embedding ``model``."""
    try:
        return load_pack(out).provenance.get("source_digest") == source_digest(model)
    except (PackError, KeyError, json.JSONDecodeError):
        return False


def ensure_default_pack(out: Path, model: str, cache_dir: Path | None, progress: bool = True) -> Path:
    """``out``, holding an up-to-date default pack for embedding ``model``: built (about a minute) if needed."""
    if is_current(out, model):
        return out
    if progress:
        print(f"building the default pack in {out} (once; about a minute) ...", flush=True)
    build_default_pack(out, model, cache_dir, progress=progress)
    return out
