"""Returning users: when a check-in is offered, what its session stores, and what its ranking reads.

A check-in (:mod:`~prefchat.elicitation.checkin`) is a session like an onboarding, whose settings
carry :data:`CHECKIN` (:func:`checkin_settings`): the old profile it tests (mean, cov, version,
counts), the items the earlier answers showed the user knows, the retention of the pack and when the
profile was made. The session's prior and question policy are then the check-in's
(:func:`checkin_of`), its posterior the hypothesis its answers favour, and the ranking after it reads
the earlier items at the weight the answers leave them (:func:`returning_parts`). The old profile is
never rewritten in place: the store keeps every saved version (:meth:`~prefchat.storage.Store.profile_history`),
and the check-in's settings hold the one it tested.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import numpy as np

from ..elicitation.checkin import CHECKIN_QUESTIONS, CheckIn, returning_evidence
from ..elicitation.posterior import Answer, Posterior
from ..elicitation.social import SocialEvidence
from ..reward.pack import Pack
from ..reward.summary import answer_evidence, descriptor_correlations
from ..storage import FEEDBACK_KINDS, ProfileRecord
from . import wording
from .summary import Summary, describe

__all__ = ["CHECKIN", "DECLINED", "checkin_due", "checkin_of", "checkin_settings", "checkin_summary", "last_checked", "lately", "returning_parts"]

CHECKIN = "checkin"
"""The key of a check-in session's settings."""
DECLINED = "checkin_declined"
"""The key of a finished session's settings that holds when (ISO 8601, by the assistant's clock) its user
last said "Not now" to a check-in offered (:func:`offer_since`)."""

LATELY_TOP = 2
"""At most this many descriptors on each side of the summary's "Lately:"."""

LATELY_MIN_MOVE = 0.05
r"""The least change :math:`|\Delta\rho_j|` of a descriptor's correlation with the reward that "Lately:" names."""


def checkin_due(pack: Pack, last: datetime, now: datetime) -> float | None:
    """Seconds since ``last`` (the profile's last save) when a check-in is due at ``now``, else None
    (the pack has no timescale: undated data, or a check-in that never helped on validation users)."""
    timescale = pack.checkin_timescale
    elapsed = (now - last).total_seconds()
    return elapsed if timescale is not None and elapsed >= timescale else None


def last_checked(profile: ProfileRecord, settings: Mapping[str, Any]) -> datetime:
    """When the user's profile was last made or checked: its save, or the moment (by the assistant's clock)
    of the check-in whose session ``settings`` are the latest, whichever is later."""
    recorded = settings.get(CHECKIN)
    if recorded is None or "at" not in recorded:
        return profile.updated_at
    return max(profile.updated_at, datetime.fromisoformat(recorded["at"]))


def offer_since(profile: ProfileRecord, settings: Mapping[str, Any]) -> datetime:
    """When the clock of the check-in offer starts: the profile's last check (:func:`last_checked`), or the
    user's last "Not now" to an offer (:data:`DECLINED` of the latest finished session's ``settings``),
    whichever is later. A declined offer comes back one timescale on, not at every visit."""
    checked = last_checked(profile, settings)
    declined = settings.get(DECLINED)
    return checked if declined is None else max(checked, datetime.fromisoformat(declined))


def checkin_settings(pack: Pack, profile: ProfileRecord, known: Collection[int], at: datetime, elapsed: float) -> dict[str, Any]:
    """The :data:`CHECKIN` settings of a check-in of ``profile`` at ``at`` (the assistant's clock): ``known``
    the items the earlier answers (and check-ins) showed the user knows, ``elapsed`` the seconds since the
    profile was last checked (:func:`last_checked`)."""
    return {CHECKIN: {"at": at.isoformat(), "mean": profile.mean.tolist(), "cov": profile.cov.tolist(), "profile_version": profile.version,
                      "counts": dict(profile.counts), "known": sorted(int(i) for i in known),
                      "retention": pack.checkin_retention, "elapsed": float(elapsed),
                      "profile_saved": profile.updated_at.isoformat()}}


def checkin_of(pack: Pack, settings: Mapping[str, Any], prior: Posterior) -> CheckIn | None:
    """The :class:`~prefchat.elicitation.checkin.CheckIn` a session's ``settings`` hold (None for an onboarding),
    around the session ``prior``."""
    recorded = settings.get(CHECKIN)
    if recorded is None:
        return None
    return CheckIn(np.asarray(recorded["mean"], dtype=float), np.asarray(recorded["cov"], dtype=float),
                   prior.prior_mean, prior.prior_cov, float(recorded["retention"]))


def returning_parts(pack: Pack, settings: Mapping[str, Any], check: CheckIn, features: np.ndarray,
                    answers: Sequence[Answer], told: frozenset[int],
                    social: SocialEvidence | None) -> tuple[frozenset[int], frozenset[int], SocialEvidence | None]:
    """``(known, earlier, social)`` of the ranking after a check-in
    (:func:`~prefchat.elicitation.checkin.returning_evidence`): ``told`` the items its own answers show."""
    return returning_evidence(told, checkin_known(settings), check.weight(features, answers), pack.known_model, social)


def checkin_known(settings: Mapping[str, Any]) -> frozenset[int]:
    """The items a check-in session's earlier answers showed the user knows (catalog indices)."""
    return frozenset(int(i) for i in settings[CHECKIN]["known"])


def checkin_counts(settings: Mapping[str, Any], counts: Mapping[str, int]) -> dict[str, int]:
    """The answer counts of the profile a check-in saves: the old profile's and the check-in's."""
    old = settings[CHECKIN]["counts"]
    return {kind: int(old.get(kind, 0)) + int(counts.get(kind, 0)) for kind in set(old) | set(counts)}


def checkin_summary(summary: Summary, counts: Mapping[str, int], moved: str, tastes: Sequence[str]) -> Summary:
    """The summary a check-in saves: the weights and tastes :func:`~prefchat.assistant.summary.summarize` read
    off the posterior the check-in left, counted over every answer behind the profile (``counts``, the old
    profile's and the check-in's: :func:`checkin_counts`), and ``moved`` (:func:`lately`) after them; its
    ``tastes`` those of the list it serves, read off every item the profile knows, not the check-in's three
    answers alone. It claims no confidence: the one measured is of those three answers, not of every answer it counts."""
    answered = sum(n for kind, n in counts.items() if kind not in FEEDBACK_KINDS)
    skipped = int(counts.get("skip", 0))
    text = describe(summary.weights, answered, skipped, None, tastes)
    return replace(summary, text=f"{text} {moved}" if moved else text, n_answers=answered, n_skipped=skipped,
                   confidence=None, answer_fit=None, tastes=tuple(tastes))


def lately(pack: Pack, old_mean: np.ndarray, new_mean: np.ndarray, answers: Sequence[Answer]) -> str:
    r"""The summary's "Lately: more documentaries." of a check-in, "" when nothing moved.

    A descriptor :math:`j` moved by :math:`\Delta_j = \rho_j(m_\text{new}) - \rho_j(m_\text{old})`
    (:func:`~prefchat.reward.summary.descriptor_correlations` on the learned bases). It is said only
    where the check-in's own choices lean the same way, :math:`\operatorname{sign} t_j = \operatorname{sign}
    \Delta_j` with :math:`|t_j| \ge 1` (:func:`~prefchat.reward.summary.answer_evidence`), and
    :math:`|\Delta_j| \ge` :data:`LATELY_MIN_MOVE`: a move its answers do not show is never claimed.
    """
    index, k = pack.serving.descriptors, pack.n_learned
    move = (descriptor_correlations(index, np.asarray(new_mean, dtype=float)[:k])
            - descriptor_correlations(index, np.asarray(old_mean, dtype=float)[:k]))
    lean = answer_evidence(pack, answers)
    shown = (np.abs(move) >= LATELY_MIN_MOVE) & (np.abs(lean) >= 1.0) & (np.sign(lean) == np.sign(move))
    more = [pack.descriptors[j] for j in np.argsort(-move, kind="stable") if shown[j] and move[j] > 0][:LATELY_TOP]
    less = [pack.descriptors[j] for j in np.argsort(move, kind="stable") if shown[j] and move[j] < 0][:LATELY_TOP]
    return wording.lately([wording.spoken(d) for d in more], [wording.spoken(d) for d in less])


def offer(elapsed: float) -> str:
    """The greeting of a check-in due ``elapsed`` seconds after the profile was saved."""
    return wording.checkin_offer(elapsed, CHECKIN_QUESTIONS)
