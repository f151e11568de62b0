r"""A session's state, rebuilt from storage: its options, answers, posterior and open question.

The state lives in storage, not in memory. Each answer is committed with the next question in one
transaction (:meth:`~prefchat.storage.Store.atomic`), or with the profile, the summary and the
served recommendations when it is the last. Every call reads the session back in one transaction
and rebuilds

- the **answers**: one :class:`~prefchat.elicitation.Comparison` per answered question (and per
  feedback, see :mod:`~prefchat.assistant.history`);
- the **posterior**: :func:`~prefchat.elicitation.onboarding.replay` of those answers from the
  prior, one update per answer. The posterior last computed for a session is kept in memory and
  continued, so an answer costs one fit; it is continued only when its answers begin those just
  read back (:func:`~prefchat.elicitation.onboarding.replay` compares them), so an answer or an
  undo committed by another process is never served stale; replaying from scratch (after a
  restart, or in another process) gives the same posterior bit for bit;
- the **open question**: the first recorded question still unanswered (after a restart, or
  after an undo); else the next one is chosen with the session's seed, so that a resumed session
  asks the question an uninterrupted one would have asked.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from ..elicitation import Posterior
from ..elicitation.onboarding import replay
from ..reward.pack import Pack
from ..storage import Exchange, NotFound, SessionRecord, Store
from .errors import WrongPack
from .history import reference_features, session_seed, stored_answers
from .returning import checkin_of
from .turns import SessionOptions, SessionState

__all__ = ["POSTERIOR_CACHE", "SessionReader"]

POSTERIOR_CACHE = 4096
"""Sessions whose latest posterior is kept in memory (least recently used first out)."""


class SessionReader:
    """Sessions of one pack, read back from one store (see the module docstring).

    Attributes
    ----------
    features : (n_items + 1, n_bases) the pack's features and the population-average item that
        feedback is compared with (:func:`~prefchat.assistant.history.reference_features`)
    reference : the average item's index, ``n_items``
    """

    def __init__(self, pack: Pack, store: Store):
        self.pack, self.store = pack, store
        self.features = reference_features(pack.features)
        self.reference = pack.n_items
        self._posteriors: OrderedDict[str, Posterior] = OrderedDict()
        self._lock = threading.Lock()

    def state(self, record: SessionRecord, history: Sequence[Exchange] | None = None) -> SessionState:
        """The state of session ``record``, from ``history`` if the caller holds it, else read back."""
        history = tuple(self.store.session_history(record.id) if history is None else history)
        answers, kinds, unknown, pending = stored_answers(history, self.pack.item_index, self.reference)
        options = self.options(record)
        prior = self.pack.serving.session_prior(options.objective or self.pack.objective)  # resolved, never None
        seed = int(record.settings.get("seed", session_seed(record.id)))
        check = checkin_of(self.pack, record.settings, prior)
        if check is not None:  # a returning user's check-in: a few answers, both hypotheses refitted
            return SessionState(record, options, seed, history, answers, kinds, unknown, pending,
                                check.posterior(self.features, answers), check)
        with self._lock:
            held = self._posteriors.get(record.id)
        posterior = replay(prior, self.features, answers, start=held if held is not None and _same_prior(held, prior) else None)
        with self._lock:
            self._posteriors[record.id] = posterior
            self._posteriors.move_to_end(record.id)
            while len(self._posteriors) > POSTERIOR_CACHE:
                self._posteriors.popitem(last=False)
        return SessionState(record, options, seed, history, answers, kinds, unknown, pending, posterior)

    def locked(self, session_id: str) -> SessionState:
        """The session's state read after taking its lock, inside the caller's :meth:`~prefchat.storage.Store.atomic`
        block: calls about one session (from any thread or process) then run one after the other,
        each on the state the previous one committed."""
        return self.state(self.record(session_id, lock=True))

    def record(self, session_id: str, lock: bool = False) -> SessionRecord:
        """The stored session ``session_id`` of this pack (:class:`~prefchat.assistant.errors.WrongPack` if of another)."""
        record = self.store.get_session(session_id, lock=lock)
        if record.pack_name != self.pack.name:
            raise WrongPack(f"session {session_id!r} is of pack {record.pack_name!r}, not {self.pack.name!r}")
        return record

    def latest(self, user_id: str, states: tuple[str, ...] = ("active", "finished")) -> SessionRecord | None:
        """The user's most recent session of this pack in one of ``states`` (None if none, or no such user)."""
        try:
            return self.store.latest_session(user_id, self.pack.name, states)
        except NotFound:
            return None

    def options(self, record: SessionRecord) -> SessionOptions:
        """The options session ``record`` was started with, resolved (:meth:`resolved`)."""
        return self.resolved(SessionOptions.from_settings(record.settings))

    def resolved(self, options: SessionOptions) -> SessionOptions:
        """``options`` with the pack's objective and question size where they say None.

        A session stored before questions had a size is a session of pairs.
        """
        return dataclasses.replace(options, objective=options.objective or self.pack.objective,
                                   question_size=options.question_size or self.pack.question_size)


def _same_prior(posterior: Posterior, prior: Posterior) -> bool:
    return bool(np.array_equal(posterior.prior_mean, prior.prior_mean) and np.array_equal(posterior.prior_cov, prior.prior_cov))
