r"""The onboarding loop: the one that the chat serves, the benchmark measures and validation tunes.

A session is a fold over answers. With :math:`P_0` the prior and :math:`t = 1, 2, \dots`:

.. math::
    q_t = \mathrm{next\_question}(\text{policy}, P_{t-1}, t - 1, \text{seed}), \qquad
    P_t = P_{t-1} \mid \text{answer}_t,

until ``next_question`` says stop (None). Three things shape it, and every caller passes all
three explicitly: the **prior** (a :class:`~prefchat.elicitation.posterior.Posterior` with no
answers), the **question policy** (:class:`Policy`: the strategy, the candidate pool, groups,
familiarity and the stop rule) and the **objective** that scores the catalog once the answers are
in (:class:`CatalogScore`). Nothing here picks any of them implicitly.

The fold is deterministic: the question at position :math:`t` depends only on the answers before
it and on ``(seed, t)`` (:func:`question_rng`), and each answer costs one
:meth:`~prefchat.elicitation.posterior.Posterior.update` warm-started at the previous mean. So a
session replayed from stored answers (:func:`replay`) holds bit for bit the posterior of one never
interrupted, and a simulated respondent (:func:`run_session`) meets exactly the questions a person
would meet through the app with the same seed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .posterior import Answer, Comparison, KWayChoice, Posterior, predictive_logits
from .selection import Question, SelectionState, Strategy, check_stop_rule, should_stop

__all__ = [
    "CatalogScore",
    "Knowing",
    "PLAIN_QUESTIONS",
    "Policy",
    "QuestionForm",
    "Session",
    "as_answer",
    "known_items",
    "next_question",
    "question_rng",
    "replay",
    "run_session",
]


Knowing = Callable[[Sequence[Answer], np.ndarray], np.ndarray]
"""``knowing(answers, items) -> (len(items),)``: the chance that the user of ``answers`` knows each of ``items``
(:attr:`Policy.knowing`)."""


@dataclass(frozen=True, eq=False)
class QuestionForm:
    """What a pack's questions are, whatever strategy picks them: the settings its build validated
    (:attr:`~prefchat.reward.serving.Serving.questions`), passed as one to every session that asks as the pack does.

    Attributes
    ----------
    size : the options of a question, 2 (pairs) or more ("which of these would you pick?")
    tastes : the taste slot of a k-way question (:attr:`Policy.tastes`); None, no slot
    knowing : each user's own chance of knowing an item (:attr:`Policy.knowing`); None, the population's
    """

    size: int = 2
    tastes: np.ndarray | None = None
    knowing: Knowing | None = None

    def __post_init__(self):
        if isinstance(self.size, bool) or not isinstance(self.size, int | np.integer) or self.size < 2:
            raise ValueError(f"a question shows at least 2 options, got size {self.size!r}")


PLAIN_QUESTIONS = QuestionForm()
"""Pairs, no taste slot, the population's familiarity: the questions of a pack that validated nothing else."""


@dataclass(frozen=True, eq=False)
class Policy:
    """Which question comes next, and when to stop.

    Attributes
    ----------
    strategy : a :data:`~prefchat.elicitation.selection.STRATEGIES` function (or a k-way one)
    pool : (n_pool,) int array, the candidate items (:func:`~prefchat.elicitation.pool.candidate_pool`)
    groups : (n_items,) int array or None; only items of one group are asked together
    familiarity : (n_items,) array or None, the chance a user knows each item (see
        :class:`~prefchat.elicitation.selection.SelectionState`)
    tastes : (n_items, n_tastes) bool or None, the tastes items carry: a k-way question's taste slot
        (:func:`~prefchat.elicitation.selection.active_kway`); None, no slot
    knowing : ``knowing(answers, pool) -> (n_pool,)`` the chance that the user of ``answers`` knows each item of
        the pool (:meth:`~prefchat.elicitation.known.KnownItemsScore.knowing`), which then stands in for
        ``familiarity`` at each question (0 outside the pool, which no question asks about): the questions a
        person is asked are the ones that person can answer. None: the population's ``familiarity`` for everyone
    min_questions, max_questions : never stop before ``min_questions`` clicks, always after
        ``max_questions`` (see :func:`~prefchat.elicitation.selection.should_stop`)
    threshold : stop early when the best next question carries fewer nats than this
    """

    strategy: Strategy
    pool: np.ndarray
    groups: np.ndarray | None = None
    familiarity: np.ndarray | None = None
    min_questions: int = 5
    max_questions: int = 10
    threshold: float = 0.01
    tastes: np.ndarray | None = None
    knowing: Knowing | None = None

    def __post_init__(self):
        check_stop_rule(self.min_questions, self.max_questions, self.threshold)


def question_rng(seed: int, position: int) -> np.random.Generator:
    """The generator of the question at ``position`` (1 for the first) of the session seeded ``seed``.

    One generator per position, so that the question asked at a position never depends on how
    the session got there: resumed, replayed or simulated.
    """
    return np.random.default_rng([seed, position])


def next_question(
    features: np.ndarray,
    posterior: Posterior,
    policy: Policy,
    asked: int,
    seed: int,
    unknown: frozenset[int] = frozenset(),
) -> Question | None:
    """The question after ``asked`` clicks, or None when the session should stop.

    Stop after ``policy.max_questions`` clicks, when the strategy has nothing left to ask, or,
    from ``policy.min_questions`` on, when the best question carries less than
    ``policy.threshold`` nats.

    Parameters
    ----------
    features : (n_items, n_bases) array
    posterior : the posterior after the answers so far
    policy : Policy
    asked : questions asked so far (clicks: a "don't know" counts)
    seed : the session's seed (see :func:`question_rng`)
    unknown : items the user said they do not know, besides those of skipped pairs
    """
    if asked >= policy.max_questions:
        return None
    familiarity = policy.familiarity
    if policy.knowing is not None:
        familiarity = np.zeros(len(features))
        familiarity[policy.pool] = policy.knowing(posterior.answers, policy.pool)
    state = SelectionState(features, posterior, policy.pool, policy.groups, unknown, familiarity, policy.tastes)
    question = policy.strategy(state, question_rng(seed, asked + 1))
    if question is None or should_stop(asked, question.information, policy.min_questions, policy.max_questions,
                                       policy.threshold):
        return None
    return question


def as_answer(question: Question, response: str | int | KWayChoice | None) -> Answer | None:
    """A response to ``question`` as evidence: a pair's "a", "b", "tie" or "skip" is a
    :class:`~prefchat.elicitation.posterior.Comparison`; a k-way pick (an item of the question) a
    :class:`~prefchat.elicitation.posterior.KWayChoice` of all its options (a KWayChoice given
    as the response is taken as it is); a k-way "don't know" (None) is no answer."""
    if isinstance(response, KWayChoice):
        return response
    if question.is_pair:
        item_a, item_b = question.items
        return Comparison(item_a, item_b, str(response))
    return None if response is None else KWayChoice(question.items, int(response))


def replay(prior: Posterior, features: np.ndarray, answers: Sequence[Answer], start: Posterior | None = None) -> Posterior:
    """The posterior after ``answers``: one :meth:`~prefchat.elicitation.posterior.Posterior.update` each, in order.

    ``start``, a posterior of the same prior whose answers begin ``answers`` (e.g. the one held
    since the previous call), is continued rather than refitted: the result is the same, bit for
    bit, at the cost of the new answers only.
    """
    posterior = prior
    if start is not None and start.answers == tuple(answers[: len(start.answers)]):
        posterior = start
    for answer in answers[len(posterior.answers):]:
        posterior = posterior.update(features, answer)
    return posterior


def known_items(answers: Iterable[Answer]) -> frozenset[int]:
    """Items the answers show the user knows: a pair's winner, both items of a tie, a k-way pick.

    What a served recommendation list leaves out, and what the benchmark leaves out with it. A
    loser or a skipped item may well be unknown to the user, so it stays recommendable.
    """
    known: set[int] = set()
    for answer in answers:
        if isinstance(answer, KWayChoice):
            known.add(answer.chosen)
        elif answer.choice in ("a", "tie"):
            known.add(answer.item_a)
        if isinstance(answer, Comparison) and answer.choice in ("b", "tie"):
            known.add(answer.item_b)
    return frozenset(known)


@dataclass(frozen=True, eq=False)
class CatalogScore:
    r"""The objective that scores the catalog for a posterior :math:`N(m, S)`.

    Without ``offset``, the mean utility :math:`\phi^\top m` ("which would you prefer?"). With
    ``offset`` :math:`a` (:func:`~prefchat.elicitation.posterior.base_rate_offset` of the session
    prior), the chance of a pick averaged over the posterior,
    :func:`~prefchat.elicitation.posterior.predictive_logits` ("which would you rather watch?"
    over a catalog whose base rates are known).

    With ``discount`` :math:`\gamma > 0` (the exposure control) the score of item :math:`i` drops
    by :math:`\gamma \operatorname{logit} f_i`, :math:`f` the base rates (``base_rates``): at
    :math:`\gamma = 1` a calibrated score ranks by lift over the population's own pick rate, so
    what everyone picks anyway stops crowding out what this user picks more than others do.

    Attributes
    ----------
    features : (n_items, n_bases) array
    offset : (n_items,) array or None
    discount : float, :math:`\gamma \ge 0`
    base_rates : (n_items,) array in (0, 1) or None; needed when ``discount`` is not 0
    """

    features: np.ndarray
    offset: np.ndarray | None = None
    discount: float = 0.0
    base_rates: np.ndarray | None = None

    def __post_init__(self):
        if not (np.isfinite(self.discount) and self.discount >= 0):
            raise ValueError(f"discount must be finite and >= 0, got {self.discount!r}")
        if self.discount and self.base_rates is None:
            raise ValueError("a discount needs the base rates it discounts")

    def penalty(self) -> np.ndarray | float:
        r""":math:`\gamma \operatorname{logit} f` (n_items,), or 0 without a discount."""
        if not self.discount:
            return 0.0
        assert self.base_rates is not None
        rates = np.asarray(self.base_rates, dtype=np.float64)
        return self.discount * (np.log(rates) - np.log1p(-rates))

    def __call__(self, posterior: Posterior) -> np.ndarray:
        """(n_items,) scores of ``posterior``'s catalog, larger first."""
        if self.offset is None:
            return self.features @ posterior.mean - self.penalty()
        return predictive_logits(self.features, posterior.mean, posterior.cov, self.offset) - self.penalty()


@dataclass(frozen=True, eq=False)
class Session:
    """A simulated session: what :func:`run_session` asked and learned.

    Attributes
    ----------
    questions : the questions asked, in order
    posteriors : the posterior after 0, 1, ... clicks (``len(questions) + 1`` of them)
    dont_know : for each question, whether the respondent did not know
    """

    questions: tuple[Question, ...]
    posteriors: tuple[Posterior, ...]
    dont_know: tuple[bool, ...]


def run_session(features: np.ndarray, prior: Posterior, policy: Policy, respondent, seed: int) -> Session:
    """The loop against a simulated ``respondent`` (``answer(question) -> str | int | None``).

    A "don't know" adds no evidence and its items are not asked again (a skipped pair through its
    :class:`~prefchat.elicitation.posterior.Comparison`, a k-way question by marking its items
    unknown); nor are the options a k-way answer leaves out (a choice among the options the
    respondent knows: the others are unknown to them).
    """
    posterior, unknown = prior, frozenset[int]()
    questions: list[Question] = []
    posteriors, dont_know = [prior], []
    while (question := next_question(features, posterior, policy, len(questions), seed, unknown)) is not None:
        response = respondent.answer(question)
        answer = as_answer(question, response)
        if answer is None:
            unknown = unknown.union(question.items)
        else:
            posterior = posterior.update(features, answer)
            unknown = unknown.union(set(question.items) - set(answer.items))
        questions.append(question)
        posteriors.append(posterior)
        dont_know.append(answer is None or (isinstance(answer, Comparison) and answer.choice == "skip"))
    return Session(tuple(questions), tuple(posteriors), tuple(dont_know))
