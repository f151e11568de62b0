"""Packs: everything needed to serve one domain, saved as plain files.

Layout of a pack directory::

    manifest.json        format version, name, embedding model, shapes, hyperparameters,
                         metrics, provenance, user split, axis names, file checksums
    items.jsonl          one item per line: {"item_id", "title", "text", "tags"}
    item_ids.npy         the item ids in catalog order, a fixed-width unicode array (optional:
                         packs written before it have their ids read from items.jsonl)
    arrays.safetensors   embeddings, features, head weights, prior, popularity, descriptors,
                         and the known-items model where there is one (``known_*``), and the
                         training ratings' items and times of a dated pack's item trend (``trend_*``)

Nothing is loaded with pickle: JSON for text, safetensors and .npy (``allow_pickle=False``) for
arrays. Loading checks the format version, the checksums (of the files, and of the manifest
itself: its ``manifest_checksum`` is the sha256 of the rest of it as canonical JSON), that the
items are UTF-8, and every shape, and raises :class:`PackError` naming the file and the problem.

Loading reads nothing whole it does not need: the arrays are memory-mapped (the operating system
pages them in as they are used), and an item is parsed from its line of items.jsonl when it is
asked for (:class:`ItemLines`: the line offsets are found while the file is checksummed), so that a
catalog of a million items loads in seconds. A line that is not a valid item record raises
:class:`PackError` naming it when it is read.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import mmap
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from ..elicitation.calibrated import CALIBRATION_HORIZON
from ..elicitation.confidence import ConfidenceThresholds
from ..elicitation.evaluate import kway_options
from ..elicitation.known import KnownModel
from ..elicitation.personas import PersonaSettings
from ..elicitation.recency import RecentPopularity
from ..elicitation.social import SocialModel
from ..elicitation.trend import ItemTrend
from .data import VISIBLE_ID, first_invisible
from .items import Axis, Item
from .manifest import MAX_DEPTH, ManifestError, check_manifest
from .serving import LESS_OBVIOUS_RECALL_KEPT, Serving, check_objective, strongest_discount

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ITEMS = "items.jsonl"
ITEM_IDS = "item_ids.npy"
ARRAYS = "arrays.safetensors"


ANSWERABLE = ("known", "on-sight")
"""How items can be judged: only when known, or on sight (see :attr:`Pack.answerable`)."""
class PackError(ValueError):
    """A pack directory is missing, damaged or of another format version."""


class ItemIndex(Mapping[str, int]):
    """item id -> catalog position, over an array of ids (sorted once; no dict of a million keys)."""

    def __init__(self, ids: np.ndarray):
        self.ids = np.asarray(ids, dtype=str)
        self._order = np.argsort(self.ids, kind="stable")
        self._sorted = self.ids[self._order]

    def _find(self, item_id: object) -> int | None:
        if not isinstance(item_id, str) or not len(self._sorted):
            return None
        j = int(np.searchsorted(self._sorted, item_id))
        return int(self._order[j]) if j < len(self._sorted) and self._sorted[j] == item_id else None

    def __getitem__(self, item_id: str) -> int:
        i = self._find(item_id)
        if i is None:
            raise KeyError(item_id)
        return i

    def __contains__(self, item_id: object) -> bool:
        return self._find(item_id) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids.tolist())

    def __len__(self) -> int:
        return len(self.ids)


class ItemLines(Sequence[Item]):
    """A loaded pack's items, each parsed from its line of items.jsonl when it is asked for.

    ``offsets`` : (n + 1,) int64, where each line starts, then the file's size; ``ids`` : (n,)
    the item ids. The file is memory-mapped: only the lines read are paged in.
    """

    def __init__(self, path: Path, offsets: np.ndarray, ids: np.ndarray):
        self.path, self.offsets, self.ids = path, offsets, ids
        self._n = len(offsets) - 1
        with open(path, "rb") as handle:
            self._data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if offsets[-1] else b""

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        i = int(i)
        if not -self._n <= i < self._n:
            raise IndexError(f"item {i} out of range for {self._n} items")
        i %= self._n
        return _item_record(self.path, i + 1, self._data[self.offsets[i] : self.offsets[i + 1]])

    def __iter__(self) -> Iterator[Item]:
        bounds = self.offsets.tolist()
        return (_item_record(self.path, i + 1, self._data[bounds[i] : bounds[i + 1]]) for i in range(self._n))

    def __eq__(self, other: object) -> bool:  # equal to a list of the same items, as the list it stands for
        return isinstance(other, Sequence) and len(other) == len(self) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self):  # a map cannot be pickled (e.g. to a worker process): the other side maps the file again
        return ItemLines, (self.path, self.offsets, self.ids)


@dataclass(frozen=True, eq=False)
class Pack:
    """A trained domain.

    Shapes: ``n_items`` items, ``n_bases`` = K learned bases followed by the population
    coordinates (``manifest["population_coordinates"]``), embedding width ``d``.

    Attributes
    ----------
    items : sequence of Item, length n_items (a list, or the lazily read :class:`ItemLines` of a loaded pack)
    embeddings : (n_items, d) float32, frozen sentence embeddings e(i)
    features : (n_items, n_bases) float64, phi(i) for every catalog item
    head_weight : (d, n_learned) float64 and head_bias : (n_learned,), the content map
        f_theta(e) = e @ head_weight + head_bias used for texts outside the catalog
    new_item_population : (n_bases - n_learned,) the population coordinates given to a
        text outside the catalog (the catalog mean: it carries no popularity signal)
    prior_mean : (n_bases,) and prior_cov : (n_bases, n_bases), the population prior of
        coefficients before the validated width ``prior_scale`` is applied
    exposure : (n_bases,) the shared offset of "would rather watch" comparisons (zero for
        packs trained on explicit choices only); see :attr:`watch_prior`
    popularity : (n_items,) number of training users who rated/compared each item
    quality : (n_items,) smoothed mean rating among training users (0 where unknown)
    descriptors : list of str and descriptor_embeddings : (n_descriptors, d) float32
    axes : list of Axis, one per learned base
    manifest : dict, everything else (see module docstring)
    known : the "watch" model of items that must be known (base rewards with item-item structure
        and the conjugate posterior of the items a user knows), or None: see :attr:`known_model`
    social : the social prior of that model (:mod:`~prefchat.elicitation.social`: the training
        users' coefficients, a friend's, and the validated trust), or None for a pack built
        without a friends graph
    trend : the drifting item term of the served "watch" score (:mod:`~prefchat.elicitation.trend`),
        chosen on validation users of dated ratings; None (no term, as :math:`\beta = 0`) elsewhere
    """

    items: Sequence[Item]
    embeddings: np.ndarray
    features: np.ndarray
    head_weight: np.ndarray
    head_bias: np.ndarray
    new_item_population: np.ndarray
    prior_mean: np.ndarray
    prior_cov: np.ndarray
    exposure: np.ndarray
    popularity: np.ndarray
    quality: np.ndarray
    descriptors: list[str]
    descriptor_embeddings: np.ndarray
    axes: list[Axis]
    manifest: dict = field(default_factory=dict)
    known: KnownModel | None = None
    social: SocialModel | None = None
    trend: ItemTrend | None = None

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_bases(self) -> int:
        return self.features.shape[1]

    @property
    def n_learned(self) -> int:
        return self.head_weight.shape[1]

    @property
    def name(self) -> str:
        return self.manifest.get("name", "unnamed")

    @property
    def version(self) -> str:
        return self.manifest.get("version", "0")

    @property
    def created(self) -> str | None:
        """When the pack was built (ISO 8601), if recorded."""
        return self.manifest.get("created")

    @property
    def prior_scale(self) -> float:
        """Validated width multiplier of the prior covariance (chosen on validation users)."""
        return float(self.manifest.get("hyperparameters", {}).get("prior_scale", 1.0))

    @property
    def prior(self) -> tuple[np.ndarray, np.ndarray]:
        """The prior used for a new user: ``N(prior_mean, prior_scale * prior_cov)``."""
        return self.prior_mean, self.prior_scale * self.prior_cov

    @property
    def watch_prior(self) -> tuple[np.ndarray, np.ndarray]:
        """The prior for "which would you rather watch?" (implicit) evidence and ranking:
        ``N(prior_mean + exposure, watch_prior_scale * prior_cov)``, its width validated on its own."""
        scale = float(self.manifest.get("hyperparameters", {}).get("watch_prior_scale", self.prior_scale))
        return self.prior_mean + self.exposure, scale * self.prior_cov

    @cached_property
    def familiarity(self) -> np.ndarray | None:
        r"""Chance that a new user knows each item: the share of training users who rated it.

        Smoothed as :math:`(c_i + \tfrac12) / (n + 1)`, with :math:`c_i` of the :math:`n`
        training users rating item i, so that it lies strictly between 0 and 1: it is also the
        base rate a catalog ranking calibrates to
        (:func:`~prefchat.elicitation.posterior.base_rate_offset`).

        None for packs whose items are judged on sight (:attr:`answerable`; texts, answers, jokes)
        or trained on pairwise choices only: every item can be asked about, and no base rate
        calibrates the catalog.
        """
        n_train = len(self.split.get("train", ()))
        if self.answerable != "known" or not self.provenance.get("n_ratings") or not n_train:
            return None
        rates = np.clip((self.popularity + 0.5) / (n_train + 1.0), 0.0, 1.0)
        rates.flags.writeable = False  # computed once and shared by every caller (a ranking reads it several times)
        return rates

    # -- what the manifest records, typed: nothing outside reward/ reads ``manifest[...]`` ------------

    @property
    def hyperparameters(self) -> dict:
        """Every setting chosen on validation users (K, L2, prior widths, beta, ...), by name."""
        return dict(self.manifest.get("hyperparameters", {}))

    @property
    def population_coordinates(self) -> tuple[str, ...]:
        """Names of the bases after the learned ones (e.g. ``("popularity", "quality")``)."""
        return tuple(self.manifest.get("population_coordinates", ()))

    @property
    def groups(self) -> np.ndarray | None:
        """(n_items,) int array, the group of each item (only items of one group are compared), or None."""
        groups = self.manifest.get("groups")
        return None if groups is None else np.asarray(groups, dtype=np.int64)

    @property
    def group_names(self) -> tuple[str, ...]:
        """The shared prompt of each group, by group number (may be shorter than the groups)."""
        return tuple(self.manifest.get("group_names") or ())

    @property
    def descriptor_source(self) -> str | None:
        """Where the descriptors come from: ``"tags"`` of the items or a built-in ``"vocabulary"``."""
        return self.manifest.get("descriptor_source")

    @property
    def descriptor_definitions(self) -> dict[str, str]:
        """Descriptors the vocabulary defines by a text measure or another descriptor
        (:func:`~prefchat.reward.naming.read_vocabulary`); empty for packs built before them."""
        return dict(self.manifest.get("descriptor_definitions") or {})

    @property
    def embedding_model(self) -> dict:
        """The sentence model the pack was built with: ``{"name", "path", "checksum"}`` (what is known)."""
        return dict(self.manifest.get("embedding_model", {}))

    @property
    def split(self) -> dict:
        """The users' split: ``{"seed", "train", "validation", "test", ...}`` (ids by part)."""
        return dict(self.manifest.get("split", {}))

    @property
    def test_users(self) -> tuple[str, ...]:
        """Ids of the held-out test users, never trained or validated on."""
        return tuple(self.split.get("test", ()))

    @property
    def provenance(self) -> dict:
        """Where the training data came from and its counts (``n_users``, ``n_ratings``, ...)."""
        return dict(self.manifest.get("data", {}))

    @property
    def trained_before(self) -> float | None:
        """The cut in time the pack was trained before (``prefchat train --before``): only ratings dated
        earlier were read; None when it read every date."""
        before = self.provenance.get("before")
        return None if before is None else float(before)

    @property
    def metrics(self) -> dict:
        """Training metrics and the zero-answer report on test users."""
        return dict(self.manifest.get("metrics", {}))

    # -- the session objective: which prior, which catalog score ---------------------------------

    @property
    def answerable(self) -> str:
        """How the pack's items can be judged, one of :data:`ANSWERABLE`.

        ``"known"``: only by someone who knows them (films, music artists): questions are weighed
        by the chance the user knows an item (:attr:`familiarity`) and sessions ask "which would
        you pick?". ``"on-sight"``: by reading them (a joke, an assistant's answer, a dish with a
        description): any item can be asked about. Recorded by ``prefchat train --answerable``
        (see :func:`~prefchat.reward.build.infer_answerable` for ``auto``); packs from before it
        was recorded are "known" when trained on ratings, as they were served.
        """
        recorded = self.manifest.get("answerable")
        if recorded is not None:
            return recorded
        return "known" if self.provenance.get("n_ratings") else "on-sight"

    @property
    def question_size(self) -> int:
        """Options a question shows unless a session says otherwise: 2 (pairs) or the k that pack
        validation chose for "which of these k would you pick?" (``hyperparameters["question_size"]``)."""
        return int(self.hyperparameters.get("question_size", 2))

    @property
    def kway_size(self) -> int:
        """Options of the benchmark's ``kway`` questions on this pack (:func:`~prefchat.elicitation.evaluate.kway_options`)."""
        return kway_options(self.question_size)

    @property
    def question_tastes(self) -> bool:
        """Whether a k-way question gives its last option to a taste no question has shown yet
        (:func:`~prefchat.elicitation.selection.active_kway`), as pack validation chose
        (``hyperparameters["question_tastes"]``, 1 or 0; packs from before it: no)."""
        return bool(self.hyperparameters.get("question_tastes", 0))

    @property
    def question_knowing(self) -> bool:
        """Whether the questions read each user's own chance of knowing an item (the known-items model's, given
        their answers so far) in place of the population's familiarity, as pack validation chose
        (``hyperparameters["question_knowing"]``, 1 or 0; packs from before it: no)."""
        return bool(self.hyperparameters.get("question_knowing", 0))

    @property
    def objective(self) -> str:
        """What this pack's sessions ask by default, one of :data:`OBJECTIVES`.

        ``"watch"`` ("which would you rather have?") where the population's base rates are known
        (:attr:`familiarity`: rating data, items that must be known to be judged), with the prior
        and catalog score validated on exactly that evidence; else ``"prefer"``.
        """
        return "watch" if self.familiarity is not None else "prefer"

    @cached_property
    def serving(self) -> Serving:
        """What serving derives from this pack (session priors, catalog scores, question pools),
        computed once each: :class:`~prefchat.reward.serving.Serving`."""
        return Serving(self)

    @property
    def exposure_discount(self) -> float:
        r"""The validated exposure control :math:`\gamma` of a "watch" catalog ranking (0 where none was
        validated): see :class:`~prefchat.elicitation.onboarding.CatalogScore` and ``choose_exposure_discount``."""
        return float(self.hyperparameters.get("exposure_discount", 0.0))

    @property
    def passed_over_weight(self) -> float:
        r"""The validated :math:`\delta` of a "watch" score (:mod:`~prefchat.elicitation.passed`): what each time
        an item was shown and passed over takes off its score; 0 (no term) where none was validated."""
        return float(self.hyperparameters.get("passed_over_weight", 0.0))

    @property
    def calibration_weight(self) -> float:
        r"""The validated :math:`\lambda` of a calibrated "watch" list (:mod:`~prefchat.elicitation.calibrated`):
        how much the served top k trades relevance for a genre mix like the user's; 0 (the ranking
        by score) where none was validated (``choose_calibration``)."""
        return float(self.hyperparameters.get("calibration_weight", 0.0))

    @property
    def calibration_popularity(self) -> float:
        r"""The validated popularity de-biasing weight :math:`\mu` of a calibrated "watch" list; 0 where none was validated."""
        return float(self.hyperparameters.get("calibration_popularity", 0.0))

    @property
    def calibration_horizon(self) -> int:
        """How many best-scored items a calibrated list reads the user's genre mix from (validated)."""
        return int(self.hyperparameters.get("calibration_horizon", CALIBRATION_HORIZON))

    @property
    def checkin_timescale(self) -> float | None:
        """How long after onboarding a returning user is greeted with a check-in (seconds; the timestamps'
        unit), chosen at build on validation users' dated ratings (:mod:`~prefchat.reward.checkin`);
        None (data without timestamps, or a check-in that never beat the old profile): no check-in."""
        value = self.hyperparameters.get("checkin_timescale")
        return None if value is None else float(value)

    @property
    def checkin_retention(self) -> float:
        r"""The share :math:`a` of an old profile's pull left when a check-in's answers contradict it
        (:mod:`~prefchat.elicitation.checkin`), chosen at build; 1 (never widened) where none was."""
        return float(self.hyperparameters.get("checkin_retention", 1.0))

    @property
    def less_obvious_discount(self) -> float:
        r"""The stronger :math:`\gamma` served when a user asks for less obvious picks (validated too)."""
        return float(self.hyperparameters.get("less_obvious_discount", self.exposure_discount))

    @property
    def discovery_slot(self) -> int:
        """Where a user with friends is shown an item a friend of another taste loves (1-based, in the
        served list; :mod:`~prefchat.elicitation.social`), chosen on validation users; 0: no such slot."""
        return int(self.hyperparameters.get("social_discovery_slot", 0)) if self.social is not None else 0

    @property
    def less_obvious_discounts(self) -> tuple[float, ...]:
        r"""The discounts "less obvious picks" may try for one user, weakest first: those of the
        validation grid from :attr:`less_obvious_discount` up to the strongest that keeps half the
        validation Recall@20 (``hyperparameters["less_obvious_limit"]``, chosen at build; for a pack
        built before it, the same rule, :func:`~prefchat.reward.serving.strongest_discount`, on the
        grid its manifest records). Just :attr:`less_obvious_discount` without a grid."""
        recorded = self.manifest.get("selection", {}).get("exposure_discount", {})
        grid = recorded.get("grid") or []
        if not grid:
            return (self.less_obvious_discount,)
        limit = self.hyperparameters.get("less_obvious_limit")
        if limit is None:
            limit = strongest_discount(grid, recorded.get("less_obvious_recall_kept", LESS_OBVIOUS_RECALL_KEPT) * grid[0]["recall@20"])
        steps = sorted({float(row["discount"]) for row in grid if self.less_obvious_discount <= row["discount"] <= limit})
        return tuple(steps) or (self.less_obvious_discount,)

    @property
    def confidence(self) -> ConfidenceThresholds | None:
        """The answer fit each confidence level needs (:mod:`~prefchat.elicitation.confidence`), chosen
        at build on simulated onboardings (``hyperparameters["confidence"]``); None for a pack built
        before they were."""
        recorded = self.hyperparameters.get("confidence")
        return None if recorded is None else ConfidenceThresholds.from_dict(recorded)

    @property
    def known_model(self) -> KnownModel | None:
        """The "watch" catalog model (:mod:`~prefchat.elicitation.known`) of a pack whose items must
        be known and that has base rates (:attr:`familiarity`); None elsewhere."""
        return self.known if self.familiarity is not None else None

    def beta(self, objective: str, stated: bool = False) -> float:
        """The summary's weight in a ranking of ``objective``, as validated on that scale.

        ``"prefer"``: the validated ``beta``; ``"watch"``: ``watch_beta``, 0 where none was validated
        (a weight validated on utilities means nothing on calibrated logits). ``stated``: the weight
        of what the user stated in words (``stated_beta``, ``watch_stated_beta``), validated by
        simulated statements; where none was, the summary's own.
        """
        name = "watch_beta" if check_objective(objective) == "watch" else "beta"
        generated = float(self.hyperparameters.get(name, 0.0))
        if not stated:
            return generated
        return float(self.hyperparameters.get(name.replace("beta", "stated_beta"), generated))

    def index_of(self, item_id: str) -> int:
        try:
            return self.item_index[item_id]
        except KeyError:
            raise KeyError(f"item {item_id!r} is not in pack {self.name!r}") from None

    @cached_property
    def item_index(self) -> ItemIndex:
        """item id -> catalog position (built once per pack, from the ids alone)."""
        ids = self.items.ids if isinstance(self.items, ItemLines) else [item.item_id for item in self.items]
        return ItemIndex(np.asarray(ids, dtype=str))

    def content_features(self, embeddings: np.ndarray) -> np.ndarray:
        """phi for texts outside the catalog: content head plus neutral population coordinates.

        .. math:: \\phi(t) = [f_\\theta(e(t)),\\ \\bar p]

        Parameters
        ----------
        embeddings : (n, d) sentence embeddings of the texts

        Returns
        -------
        (n, n_bases) features
        """
        embeddings = np.atleast_2d(np.asarray(embeddings, dtype=np.float64))
        learned = embeddings @ self.head_weight + self.head_bias
        population = np.broadcast_to(self.new_item_population, (len(embeddings), len(self.new_item_population)))
        return np.hstack([learned, population])


_ARRAY_FIELDS = (
    "embeddings",
    "features",
    "head_weight",
    "head_bias",
    "new_item_population",
    "prior_mean",
    "prior_cov",
    "exposure",
    "popularity",
    "quality",
    "descriptor_embeddings",
)


SOCIAL_COEFFICIENTS = "social_coefficients"
"""The training users' known-items coefficients of a pack with a social prior (:class:`~prefchat.elicitation.social.SocialModel`)."""
SOCIAL_ITEM_INDPTR, SOCIAL_ITEM_INDICES = "social_item_indptr", "social_item_indices"
"""The training users' known items, CSR (:func:`~prefchat.elicitation.social.item_lists`): the friends' items
term reads a friend's from them (a pack written before them has none, and no such term)."""
KNOWN_PREFIX = "known_"
_KNOWN_FIELDS = ("features", "emission", "prior_mean", "prior_cov", "within")
"""The arrays of a :class:`~prefchat.elicitation.known.KnownModel`, saved as ``known_<name>``."""
TREND_ITEMS, TREND_TIMES = "trend_items", "trend_times"
"""The training ratings' items and times of an :class:`~prefchat.elicitation.trend.ItemTrend` (its window and
beta in the manifest's ``trend``)."""
KNOWN_BASE_RATES = KNOWN_PREFIX + "base_rates"
"""The base rates a calibrated :class:`~prefchat.elicitation.known.KnownModel` fades its item bias from
(saved where it has them; a pack written before them has none, and no bias)."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


MANIFEST_CHECKSUM = "manifest_checksum"
"""The manifest's own checksum: sha256 of the rest of it as canonical JSON (:func:`_manifest_checksum`)."""


def _manifest_checksum(manifest: dict) -> str:
    """sha256 of the manifest without its own checksum, as JSON with sorted keys and no spaces."""
    rest = {key: value for key, value in manifest.items() if key != MANIFEST_CHECKSUM}
    text = json.dumps(rest, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def save_pack(pack: Pack, directory: str | Path) -> Path:
    """Write ``pack`` to ``directory`` (created if needed) and return the directory."""
    from safetensors.numpy import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ids = []
    with open(directory / ITEMS, "w", encoding="utf-8") as handle:
        for item in pack.items:
            record = {"item_id": item.item_id, "title": item.title, "text": item.text, "tags": list(item.tags)}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            ids.append(item.item_id)
    np.save(directory / ITEM_IDS, np.asarray(ids, dtype=str), allow_pickle=False)
    arrays = {name: np.ascontiguousarray(getattr(pack, name)) for name in _ARRAY_FIELDS}
    if pack.known is not None:
        arrays.update({KNOWN_PREFIX + name: np.ascontiguousarray(getattr(pack.known, name)) for name in _KNOWN_FIELDS})
        if pack.known.base_rates is not None:
            arrays[KNOWN_BASE_RATES] = np.ascontiguousarray(pack.known.base_rates)
    if pack.social is not None:
        arrays[SOCIAL_COEFFICIENTS] = np.ascontiguousarray(pack.social.coefficients)
        if pack.social.item_indptr is not None and pack.social.item_indices is not None:
            arrays[SOCIAL_ITEM_INDPTR] = np.ascontiguousarray(pack.social.item_indptr, dtype=np.int64)
            arrays[SOCIAL_ITEM_INDICES] = np.ascontiguousarray(pack.social.item_indices, dtype=np.int32)
    if pack.trend is not None:
        arrays[TREND_ITEMS] = np.ascontiguousarray(pack.trend.recent.items, dtype=np.int64)
        arrays[TREND_TIMES] = np.ascontiguousarray(pack.trend.recent.times, dtype=np.float64)
    save_file(arrays, str(directory / ARRAYS))
    manifest = dict(pack.manifest)
    manifest["known"] = None if pack.known is None else {"n_bases": pack.known.n_bases, "tau": pack.known.tau,
                                                         "calibration": pack.known.calibration}
    if pack.known is not None and pack.known.personas.max_personas > 1:  # one persona: the manifest of before
        manifest["known"]["personas"] = pack.known.personas.to_dict()
    manifest["social"] = None if pack.social is None else {"trust": pack.social.trust, "spread": pack.social.spread,
                                                           "item_weight": pack.social.item_weight,
                                                           "item_spread": pack.social.item_spread, "members": "train"}
    manifest["trend"] = None
    if pack.trend is not None:
        window = pack.trend.recent.window
        manifest["trend"] = {"window": window if np.isfinite(window) else None, "beta": pack.trend.beta}
    manifest.update(
        format_version=FORMAT_VERSION,
        n_items=pack.n_items,
        n_bases=pack.n_bases,
        n_learned=pack.n_learned,
        embedding_dim=int(pack.embeddings.shape[1]),
        descriptors=list(pack.descriptors),
        axes=[{"index": a.index, "name": a.name, "positive": list(a.positive), "negative": list(a.negative)} for a in pack.axes],
        checksums={name: _sha256(directory / name) for name in (ITEMS, ITEM_IDS, ARRAYS)},
    )
    manifest.pop(MANIFEST_CHECKSUM, None)
    manifest[MANIFEST_CHECKSUM] = _manifest_checksum(manifest)
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return directory


def _read_manifest(directory: Path) -> dict:
    path = directory / MANIFEST
    if not path.is_file():
        raise PackError(f"{path}: no manifest; is {directory} a prefchat pack?")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PackError(f"{path}: not valid JSON ({error})") from None
    except RecursionError:
        raise PackError(f"{path}: nested deeper than {MAX_DEPTH} levels") from None
    if not isinstance(manifest, dict):
        raise PackError(f"{path}: expected a JSON object")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise PackError(f"{path}: pack format version {version!r}, this prefchat reads version {FORMAT_VERSION}")
    try:
        return check_manifest(manifest, path)
    except ManifestError as error:
        raise PackError(str(error)) from None


def _check_file(directory: Path, name: str, manifest: dict, digest: str | None = None) -> None:
    """The file exists and has the checksum the manifest records (``digest``: already computed)."""
    if not (directory / name).is_file():
        raise PackError(f"{directory / name}: missing")
    expected = manifest.get("checksums", {}).get(name)
    if expected != (digest or _sha256(directory / name)):
        raise PackError(f"{directory / name}: checksum mismatch, the file is damaged or was edited")


def _scan_lines(path: Path) -> tuple[str, np.ndarray]:
    """The sha256 of a text file and where each of its lines starts, then its size, in one pass;
    raises :class:`PackError` naming the line if the file is not UTF-8."""
    digest, decoder = hashlib.sha256(), codecs.getincrementaldecoder("utf-8")()
    starts, position = [np.zeros(1, dtype=np.int64)], 0
    with open(path, "rb") as handle:
        try:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
                decoder.decode(block)
                starts.append(position + 1 + np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 0x0A))
                position += len(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            _name_bad_line(path)
            raise
    offsets = np.concatenate(starts)
    return digest.hexdigest(), offsets if offsets[-1] == position else np.append(offsets, position)


def _name_bad_line(path: Path) -> None:
    """Raise :class:`PackError` naming the first line of ``path`` that is not UTF-8."""
    with open(path, "rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise PackError(f"{path}, line {line_number}: not UTF-8 (byte {raw[error.start]:#04x} at column "
                                f"{error.start + 1})") from None


def _item_record(path: Path, line_number: int, raw: bytes) -> Item:
    """The item on one line of items.jsonl."""
    try:
        record = json.loads(raw.decode("utf-8"))
        return Item(str(record["item_id"]), record["title"], record["text"], tuple(record["tags"]))
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise PackError(f"{path}, line {line_number}: bad item record ({error!r})") from None


def _read_items(directory: Path, manifest: dict) -> ItemLines:
    """The checked items of a pack: offsets found while checksumming, ids from item_ids.npy (or,
    for a pack written before it, from every line, which parses and so checks them all)."""
    path = directory / ITEMS
    if not path.is_file():
        raise PackError(f"{path}: missing")
    digest, offsets = _scan_lines(path)
    _check_file(directory, ITEMS, manifest, digest)
    n_lines = len(offsets) - 1
    if ITEM_IDS not in manifest.get("checksums", {}):
        with open(path, "rb") as handle:
            ids = np.asarray([_item_record(path, n + 1, raw).item_id for n, raw in enumerate(handle)], dtype=str)
        return ItemLines(path, offsets, ids)
    _check_file(directory, ITEM_IDS, manifest)
    try:
        ids = np.load(directory / ITEM_IDS, allow_pickle=False)
    except (ValueError, OSError) as error:
        raise PackError(f"{directory / ITEM_IDS}: unreadable ({error})") from None
    if ids.dtype.kind != "U" or ids.shape != (n_lines,):
        raise PackError(f"{directory / ITEM_IDS}: {ids.dtype} ids of shape {ids.shape}, {path} has {n_lines} lines")
    return ItemLines(path, offsets, ids)


_SAFETENSORS_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
                       "I8": "i1", "U8": "u1", "BOOL": "?"}


def _map_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a safetensors file, memory-mapped read-only.

    The format: an 8-byte little-endian header size n, n bytes of JSON
    ``{name: {"dtype", "shape", "data_offsets": [begin, end]}}``, then the data, the offsets
    counted from its start.
    """
    size = path.stat().st_size
    with open(path, "rb") as handle:
        n = int.from_bytes(handle.read(8), "little")
        if size < 8 or n > size - 8:
            raise PackError(f"{path}: unreadable (header of {n} bytes in a file of {size})")
        try:
            header = json.loads(handle.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise PackError(f"{path}: unreadable header ({error})") from None
        data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    arrays = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape = np.dtype(_SAFETENSORS_DTYPES[spec["dtype"]]), tuple(int(x) for x in spec["shape"])
            begin, end = (8 + n + int(x) for x in spec["data_offsets"])
        except (KeyError, TypeError, ValueError) as error:
            raise PackError(f"{path}: unreadable entry for {name!r} ({error!r})") from None
        count = int(np.prod(shape))
        if not 8 + n <= begin <= end <= size or end - begin != count * dtype.itemsize:
            raise PackError(f"{path}: array {name!r} of shape {shape} does not fit its bytes [{begin}, {end})")
        arrays[name] = (np.frombuffer(data, dtype=dtype, count=count, offset=begin) if count
                        else np.empty(0, dtype=dtype)).reshape(shape)
    return arrays


def load_pack(directory: str | Path) -> Pack:
    """Load and check a pack written by :func:`save_pack` (see the module docstring)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise PackError(f"{directory}: no such pack directory")
    manifest = _read_manifest(directory)
    items = _read_items(directory, manifest)
    if (bad := first_invisible(items.ids)) is not None:
        raise PackError(f"{directory / ITEMS}, line {bad + 1}: item id {str(items.ids[bad])!r} is not {VISIBLE_ID}")
    _check_file(directory, ARRAYS, manifest)
    arrays = _map_arrays(directory / ARRAYS)
    missing = [name for name in _ARRAY_FIELDS if name not in arrays]
    if missing:
        raise PackError(f"{directory / ARRAYS}: missing arrays {missing}")

    try:
        n_items, n_bases, n_learned = int(manifest["n_items"]), int(manifest["n_bases"]), int(manifest["n_learned"])
        d = int(manifest["embedding_dim"])
        n_desc = len(manifest["descriptors"])
    except (KeyError, TypeError, ValueError) as error:
        raise PackError(f"{directory / MANIFEST}: bad or missing field ({error!r})") from None
    expected = {
        "embeddings": (n_items, d),
        "features": (n_items, n_bases),
        "head_weight": (d, n_learned),
        "head_bias": (n_learned,),
        "new_item_population": (n_bases - n_learned,),
        "prior_mean": (n_bases,),
        "prior_cov": (n_bases, n_bases),
        "exposure": (n_bases,),
        "popularity": (n_items,),
        "quality": (n_items,),
        "descriptor_embeddings": (n_desc, d),
    }
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            raise PackError(f"{directory / ARRAYS}: array {name!r} has shape {arrays[name].shape}, manifest says {shape}")
    if len(items) != n_items:
        raise PackError(f"{directory / ITEMS}: {len(items)} items, manifest says {n_items}")
    # Checked after the shapes, so that an edit those catch is named by them; any other edit
    # (a hyperparameter, an axis, a name) is caught here, before the pack is used.
    if MANIFEST_CHECKSUM not in manifest:
        raise PackError(f"{directory / MANIFEST}: no {MANIFEST_CHECKSUM} (written by an older prefchat); rebuild the pack")
    if manifest[MANIFEST_CHECKSUM] != _manifest_checksum(manifest):
        raise PackError(f"{directory / MANIFEST}: checksum mismatch, the manifest is damaged or was edited")
    axes = [Axis(a["index"], a["name"], tuple(a["positive"]), tuple(a["negative"])) for a in manifest["axes"]]
    known = _read_known(directory, manifest, {name: arrays.pop(name) for name in list(arrays) if name.startswith(KNOWN_PREFIX)})
    social = _read_social(directory, manifest, known, arrays.pop(SOCIAL_COEFFICIENTS, None),
                          (arrays.pop(SOCIAL_ITEM_INDPTR, None), arrays.pop(SOCIAL_ITEM_INDICES, None)))
    trend = _read_trend(directory, manifest, arrays.pop(TREND_ITEMS, None), arrays.pop(TREND_TIMES, None))
    return Pack(items=items, descriptors=list(manifest["descriptors"]), axes=axes, manifest=manifest, known=known,
                social=social, trend=trend, **arrays)


def _read_trend(directory: Path, manifest: dict, items: np.ndarray | None, times: np.ndarray | None) -> ItemTrend | None:
    """The pack's :class:`~prefchat.elicitation.trend.ItemTrend` from its ``trend_*`` arrays and the manifest's
    window and beta (a window of null: all time); None without one."""
    recorded = manifest.get("trend")
    if recorded is None and items is None and times is None:
        return None
    if recorded is None or items is None or times is None:
        raise PackError(f"{directory / ARRAYS}: the item trend is incomplete (manifest 'trend' {recorded!r}, arrays "
                        f"{TREND_ITEMS!r} {'missing' if items is None else 'present'}, "
                        f"{TREND_TIMES!r} {'missing' if times is None else 'present'})")
    try:
        window = np.inf if recorded["window"] is None else float(recorded["window"])
        return ItemTrend(RecentPopularity.fit(items, times, int(manifest["n_items"]), window), float(recorded["beta"]))
    except (KeyError, TypeError, ValueError) as error:
        raise PackError(f"{directory / MANIFEST}: bad item trend ({error})") from None


def _read_social(directory: Path, manifest: dict, known: KnownModel | None, coefficients: np.ndarray | None,
                 lists: tuple[np.ndarray | None, np.ndarray | None] = (None, None)) -> SocialModel | None:
    """The pack's :class:`~prefchat.elicitation.social.SocialModel`: its training users' coefficients
    (one row per id of the split's ``train``, in order), their item ``lists`` (CSR offsets and items,
    where the pack has them) and the manifest's trust, spread and friends' items term; None without one."""
    recorded = manifest.get("social")
    if recorded is None and coefficients is None:
        return None
    members = (manifest.get("split") or {}).get("train") or []
    if recorded is None or coefficients is None or known is None:
        raise PackError(f"{directory / ARRAYS}: the social prior is incomplete (manifest 'social' {recorded!r}, "
                        f"array {SOCIAL_COEFFICIENTS!r} {'missing' if coefficients is None else 'present'}, "
                        f"known-items model {'missing' if known is None else 'present'})")
    if coefficients.shape != (len(members), known.n_bases):
        raise PackError(f"{directory / ARRAYS}: array {SOCIAL_COEFFICIENTS!r} has shape {coefficients.shape}, expected "
                        f"({len(members)}, {known.n_bases}): one row per training user, one column per known-items base")
    try:
        indptr, indices = lists
        if indices is not None and indices.size and (indices.min() < 0 or indices.max() >= known.features.shape[0]):
            raise ValueError(f"array {SOCIAL_ITEM_INDICES!r} holds an item outside 0..{known.features.shape[0] - 1}")
        return SocialModel(tuple(members), coefficients, float(recorded["trust"]), float(recorded["spread"]), indptr, indices,
                           float(recorded.get("item_weight", 0.0)), float(recorded.get("item_spread", 0.0)))
    except (KeyError, TypeError, ValueError) as error:
        raise PackError(f"{directory / MANIFEST}: bad social prior ({error})") from None


def _read_known(directory: Path, manifest: dict, arrays: dict[str, np.ndarray]) -> KnownModel | None:
    """The pack's :class:`~prefchat.elicitation.known.KnownModel` from its ``known_*`` arrays (None without one)."""
    recorded = manifest.get("known")
    if recorded is None and not arrays:
        return None
    missing = [KNOWN_PREFIX + name for name in _KNOWN_FIELDS if KNOWN_PREFIX + name not in arrays]
    if recorded is None or missing:
        raise PackError(f"{directory / ARRAYS}: the known-items model is incomplete (manifest 'known' {recorded!r}, "
                        f"missing arrays {missing})")
    try:
        personas = PersonaSettings.from_dict(recorded["personas"]) if recorded.get("personas") else PersonaSettings()
        model = KnownModel(**{name: arrays[KNOWN_PREFIX + name] for name in _KNOWN_FIELDS}, tau=float(recorded["tau"]),
                           base_rates=arrays.get(KNOWN_BASE_RATES), calibration=float(recorded.get("calibration", 0.0)),
                           personas=personas)
    except (KeyError, TypeError, ValueError) as error:
        raise PackError(f"{directory / ARRAYS}: bad known-items model ({error})") from None
    if model.features.shape != (int(manifest["n_items"]), int(recorded.get("n_bases", -1))):
        raise PackError(f"{directory / ARRAYS}: array 'known_features' has shape {model.features.shape}, manifest says "
                        f"({manifest['n_items']}, {recorded.get('n_bases')})")
    return model
