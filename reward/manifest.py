"""What a pack's ``manifest.json`` may hold: every value a server reads, range-checked when the pack loads.

The manifest's checksum (:data:`~prefchat.reward.pack.MANIFEST_CHECKSUM`) catches damage, not
intent: whoever can edit the manifest can recompute a checksum, keyed or not, since the key
would sit next to the pack. So a loaded manifest is held to what prefchat itself writes, and
an edited one fails with one line naming the key, never with a 500 when served:

- nesting at most :data:`MAX_DEPTH` levels (a deeper document is refused, not a traceback);
- counts and shapes (``n_items``, ``n_bases``, ``n_learned``, ``embedding_dim``) positive
  integers within bounds;
- every served hyperparameter a finite number in its range (:data:`HYPERPARAMETERS`), and any
  other number there finite and at most :data:`MAX_MAGNITUDE` in size;
- names, descriptors, axes, groups and the known-items model of the types and sizes prefchat writes;
- the item trend's ``beta`` (finite, at most :data:`MAX_MAGNITUDE` in size) and ``window`` (null, or a
  positive finite number in the timestamps' unit).

Keys prefchat does not read (``selection``, ``metrics``, ``split``, ``data``, ...) are checked
for depth only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..elicitation.confidence import ConfidenceThresholds

__all__ = ["HYPERPARAMETERS", "MAX_DEPTH", "MAX_MAGNITUDE", "ManifestError", "check_manifest", "depth"]

MAX_DEPTH = 32
"""Deepest nesting of lists and objects in a manifest (prefchat writes at most 6)."""
MAX_MAGNITUDE = 1e6
"""Largest size of any number among the hyperparameters."""
MAX_ITEMS = 10**9
MAX_BASES = 10_000
MAX_DIM = 100_000
MAX_NAME = 200
"""Characters of a pack's name or version, or of a descriptor."""
MAX_PROMPT = 2_000
"""Characters of a group's name (the prompt shown above its question) or of an axis's."""
MAX_QUESTION_SIZE = 6
"""Most options a question shows (2: a pair; more: "which of these would you pick?"): the packs' limit,
the chat's positions and the widget's cards."""
MAX_PERSONAS = 16
"""Most personas (tastes) a user's known items may be split into."""

_POSITIVE = (0.0, False, MAX_MAGNITUDE)  # (low, low allowed, high)
_NONNEGATIVE = (0.0, True, MAX_MAGNITUDE)
HYPERPARAMETERS: dict[str, tuple[float, bool, float]] = {
    "prior_scale": _POSITIVE,
    "watch_prior_scale": _POSITIVE,
    "l2": _NONNEGATIVE,
    "implicit_weight": _NONNEGATIVE,
    "quality_boost": _NONNEGATIVE,
    "popularity_boost": _NONNEGATIVE,
    "known_l2": _POSITIVE,
    "known_tau": _POSITIVE,
    "known_calibration": _NONNEGATIVE,
    "beta": _NONNEGATIVE,
    "watch_beta": _NONNEGATIVE,
    "stated_beta": _NONNEGATIVE,
    "watch_stated_beta": _NONNEGATIVE,
    "exposure_discount": (0.0, True, 100.0),
    "less_obvious_discount": (0.0, True, 100.0),
    "less_obvious_limit": (0.0, True, 100.0),
    "social_trust": _NONNEGATIVE,
    "social_spread": (0.0, True, 1.0),
    "social_discovery_slot": (0.0, True, 1000.0),
    "passed_over_weight": _NONNEGATIVE,
    "calibration_weight": (0.0, True, 1.0),
    "calibration_popularity": _NONNEGATIVE,
    "calibration_horizon": (1.0, True, 1e6),
    "persona_max": (1.0, True, 16.0),
    "persona_penalty": _NONNEGATIVE,
    "persona_temperature": _NONNEGATIVE,
    "persona_dimensions": (0.0, True, MAX_BASES),
    "question_tastes": (0.0, True, 1.0),
    "question_knowing": (0.0, True, 1.0),
}
"""Served hyperparameters: ``name -> (low, whether low itself is allowed, high)``."""


class ManifestError(ValueError):
    """A manifest value out of its range; the message names the key."""


def depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of a JSON value (a scalar is 0, ``[]`` is 1), counted without recursion, up to ``limit + 1``."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            level += 1
            deepest = max(deepest, level)
            if deepest > limit:
                return deepest
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, level) for child in children if isinstance(child, dict | list))
    return deepest


def check_manifest(manifest: dict, path: str | Path = "manifest.json") -> dict:
    """``manifest`` if every value a server reads is in range (see the module), else :class:`ManifestError`
    ``"<path>: <key> ..."``."""

    def fail(key: str, value: Any, rule: str) -> ManifestError:
        shown = repr(value)
        return ManifestError(f"{path}: {key} is {shown[:80] + ('…' if len(shown) > 80 else '')}, {rule}")

    if depth(manifest) > MAX_DEPTH:
        raise ManifestError(f"{path}: nested deeper than {MAX_DEPTH} levels")
    n_items = _integer(manifest, "n_items", 1, MAX_ITEMS, fail)
    n_bases = _integer(manifest, "n_bases", 1, MAX_BASES, fail)
    _integer(manifest, "n_learned", 0, n_bases, fail)
    _integer(manifest, "embedding_dim", 1, MAX_DIM, fail)
    for key in ("name", "version"):
        if key in manifest:
            _name(manifest[key], key, fail)
    hyperparameters = manifest.get("hyperparameters", {})
    if not isinstance(hyperparameters, dict):
        raise fail("hyperparameters", hyperparameters, "must be an object")
    for key, value in hyperparameters.items():
        _hyperparameter(f"hyperparameters.{key}", value, HYPERPARAMETERS.get(key), fail)
    if "question_size" in hyperparameters:
        _integer(hyperparameters, "question_size", 2, MAX_QUESTION_SIZE, fail, "hyperparameters.")
    if "confidence" in hyperparameters:
        try:
            ConfidenceThresholds.from_dict(hyperparameters["confidence"])
        except (ValueError, TypeError, AttributeError) as error:
            raise fail("hyperparameters.confidence", hyperparameters["confidence"], str(error)) from None
    known = manifest.get("known")
    if known is not None:
        if not isinstance(known, dict):
            raise fail("known", known, "must be null or an object")
        _integer(known, "n_bases", 1, MAX_BASES, fail, "known.")
        _hyperparameter("known.tau", known.get("tau"), _POSITIVE, fail)
        if "calibration" in known:
            _hyperparameter("known.calibration", known["calibration"], _NONNEGATIVE, fail)
        if known.get("personas") is not None:
            personas = known["personas"]
            if not isinstance(personas, dict):
                raise fail("known.personas", personas, "must be null or an object")
            _integer(personas, "max_personas", 1, MAX_PERSONAS, fail, "known.personas.")
            _hyperparameter("known.personas.penalty", personas.get("penalty"), _NONNEGATIVE, fail)
            _hyperparameter("known.personas.temperature", personas.get("temperature"), _NONNEGATIVE, fail)
            if "dimensions" in personas:
                _integer(personas, "dimensions", 0, MAX_BASES, fail, "known.personas.")
    trend = manifest.get("trend")
    if trend is not None:
        if not isinstance(trend, dict) or "beta" not in trend:
            raise fail("trend", trend, "must be null or an object with a beta")
        _hyperparameter("trend.beta", trend["beta"], (-MAX_MAGNITUDE, True, MAX_MAGNITUDE), fail)
        if trend.get("window") is not None:
            _hyperparameter("trend.window", trend["window"], (0.0, False, math.inf), fail)
    groups = manifest.get("groups")
    if groups is not None and (not isinstance(groups, list) or len(groups) != n_items
                               or not all(type(g) is int and 0 <= g < n_items for g in groups)):
        raise fail("groups", groups, f"must be null or {n_items} group numbers from 0")
    for key, limit in (("descriptors", MAX_NAME), ("group_names", MAX_PROMPT), ("population_coordinates", MAX_NAME)):
        names = manifest.get(key) or []
        if not isinstance(names, list):
            raise fail(key, names, "must be a list of names")
        for n, name in enumerate(names):
            _name(name, f"{key}[{n}]", fail, limit)
    axes = manifest.get("axes", [])
    if not isinstance(axes, list) or len(axes) > n_bases:
        raise fail("axes", axes, f"must be a list of at most {n_bases} axes")
    for n, axis in enumerate(axes):
        if not isinstance(axis, dict) or type(axis.get("index")) is not int or not 0 <= axis["index"] < n_bases:
            raise fail(f"axes[{n}]", axis, f"must be an object with an index from 0 to {n_bases - 1}")
        _name(axis.get("name"), f"axes[{n}].name", fail, MAX_PROMPT)
        for side in ("positive", "negative"):
            if not isinstance(axis.get(side), list):
                raise fail(f"axes[{n}].{side}", axis.get(side), "must be a list of descriptors")
            for m, name in enumerate(axis[side]):
                _name(name, f"axes[{n}].{side}[{m}]", fail)
    return manifest


def _integer(record: dict, key: str, low: int, high: int, fail: Callable[..., ManifestError], prefix: str = "") -> int:
    value = record.get(key)
    if type(value) is not int or not low <= value <= high:
        raise fail(prefix + key, value, f"must be an integer from {low} to {high}")
    return value


def _hyperparameter(key: str, value: Any, bounds: tuple[float, bool, float] | None,
                    fail: Callable[..., ManifestError]) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        if bounds is None:
            return  # a setting that is not a number (a name, a list of tried values) is not served
        raise fail(key, value, "must be a number")
    low, closed, high = bounds if bounds is not None else (-MAX_MAGNITUDE, True, MAX_MAGNITUDE)
    if not math.isfinite(value) or value > high or value < low or (value == low and not closed):
        rule = f"must be a finite number {'from' if closed else 'above'} {low:g} {'to' if closed else 'and at most'} {high:g}"
        raise fail(key, value, rule)


def _name(value: Any, key: str, fail: Callable[..., ManifestError], limit: int = MAX_NAME) -> None:
    if not isinstance(value, str) or not value or len(value) > limit or not value.isprintable():
        raise fail(key, value, f"must be 1 to {limit} printable characters")
