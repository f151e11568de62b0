r"""The recommendation path: what a top k is made of, owned once.

The twin of the onboarding loop (:mod:`~prefchat.elicitation.onboarding`): the chat, the REST
API, the Python API, ``prefchat eval`` and the benchmarks all rank through one
:class:`Recommender`. What it is asked about a user is a :class:`~prefchat.reward.scoring.Taste`:
the posterior :math:`N(m, S)` of a session of some objective, the user's summary, and the items
the answers show the user knows. A served top k (:meth:`Recommender.recommend`) is

.. math:: \operatorname{top}_k\big(\mathrm{score}(i)\big), \qquad
          \mathrm{score}(i) = c(i) + \beta\, s(i) + \beta_\text{stated}\, s^\text{stated}(i),
          \quad i \notin \text{known} \cup \text{disliked},

each pick with its reason (:func:`_reason`). Its parts:

- the **scores**: the score of the objective :math:`c(i)` (one scorer each), the exposure control
  and the summary and stated terms are the :class:`~prefchat.reward.scoring.Scorer`'s, which the
  Recommender is: the pack build chooses the summary's weights on those very scores
  (:mod:`~prefchat.reward.calibration`); a stated like is served at the first doubling of its
  weight that moves the picks its way (:meth:`Recommender.served`,
  :func:`~prefchat.reward.scoring.like_factor`);
- the **calibrated list**: on a tags pack, the best-scored items of a "watch" list re-ordered so
  that its genre mix comes close to the user's (read from the scores' many best items, not the top
  k alone) and less of it comes from the head (Steck's greedy re-ranking with a popularity term,
  :mod:`~prefchat.elicitation.calibrated`, by the pack's validated weights;
  :meth:`~prefchat.reward.scoring.Scorer.calibrated`): a pick's ``score`` is then the score of its place in the list;
- the **items left out**: those the answers show the user knows
  (:func:`~prefchat.elicitation.onboarding.known_items`), and on a tags pack those carrying a tag
  the user said they do not want (:func:`~prefchat.reward.scoring.stated_exclusions`);
- the **reasons** (:func:`_reason`): the answer that lifted the pick most (:func:`answer_lifts`),
  what the user stated that it meets or that it has against them, else what their summary says
  they enjoy that it carries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..elicitation import Comparison, Posterior
from ..elicitation.metrics import top_k
from ..elicitation.posterior import Answer, KWayChoice, answer_pulls, picked
from ..elicitation.social import SocialEvidence, with_discovery
from ..reward.data import TITLE_LENGTH
from ..reward.pack import Pack
from ..reward.scoring import (
    LIKE_FACTORS,
    Candidates,
    Scorer,
    Scoring,
    Taste,
    like_factor,
    liked_carriers,
    served_taste,
    stated_exclusions,
    stated_misses,
)
from . import wording
from .cards import card_name
from .summary import Summary, answer_evidence, scale_stated_likes, summary_weights, taste_names

__all__ = [  # Taste, Candidates and what a statement does are the scorer's (prefchat.reward.scoring); the assistant reads them here
    "LIKE_FACTORS", "Candidates", "Persona", "Ranked", "Reason", "Recommender", "ServedScore", "Taste", "answer_lifts",
    "like_factor", "liked_carriers", "stated_exclusions", "stated_misses",
]

WHY_SHARE = 0.1
"""A population reason ("popular too") is given only if it brings at least this share of the item's positive contributions."""
WHY_ANSWERS = 1
"""At most this many answers cited in a reason (each lifting the item at least half as much as the
first): one answer, its cards named, is a sentence a person reads; two are a paragraph."""
WHY_DESCRIPTORS = 2
"""At most this many descriptors of each kind in a reason."""
POPULATION_WORDS = {"popularity": "popular", "quality": "well rated"}
"""How a population coordinate reads at its high end (a reason never names the low end)."""


@dataclass(frozen=True)
class Ranked:
    """One recommendation.

    Attributes
    ----------
    index : position in the catalog, or in the caller's candidate list
    item_id : the catalog item id; None for a candidate text
    title : the item's title, or the start of the candidate text
    score : the item's score (see the module docstring); in a calibrated list, the score of its place
    why : one sentence saying what in the user's answers and words moved the item up, e.g.
        "because you picked Alien over Notting Hill" (:attr:`reason` in words)
    text : the item's text (what the user would read: a response, a description), or the candidate text
    reason : what ``why`` says, part by part
    persona : for a user of several tastes (:mod:`~prefchat.elicitation.personas`), the one the pick was
        chosen for; None for one taste
    """

    index: int
    item_id: str | None
    title: str
    score: float
    why: str
    text: str = ""
    reason: Reason | None = None
    persona: Persona | None = None


@dataclass(frozen=True)
class Persona:
    r"""One of a user's several tastes (:mod:`~prefchat.elicitation.personas`).

    Attributes
    ----------
    index : its place among the user's tastes, the largest first
    items : the catalog items the answers show the user knows that make it up
    share : :math:`\pi_p`, its share of those items (and of the places of a list)
    name : the descriptor that singles it out (:func:`~prefchat.assistant.summary.taste_names`), or None
    """

    index: int
    items: tuple[int, ...]
    share: float
    name: str | None


@dataclass(frozen=True)
class Reason:
    """What a pick's reason says, each part a fact about the user and the item (bench/reason_check.py checks them).

    Attributes
    ----------
    answers : the user's answers cited, those that lifted the item's score most (:func:`answer_lifts`)
    said : descriptors the user stated a like of that the item carries
    said_no : descriptors the user stated a dislike of that the item does not carry
    enjoys : descriptors the summary says the user enjoys, that their answers lean to
        (:func:`~prefchat.assistant.summary.answer_evidence` not below 0) and the item carries; only
        where no answer is cited
    popular : how the item stands in the population ("popular", "well rated") where that adds to its
        score and it sits above the catalog mean; said only next to a personal reason, or alone
        when there is none
    against : descriptors the summary says the user is not keen on that the item carries all the
        same: said too, so that a reason never reads as if the pick were free of them
    side : the name of the taste the pick serves, for a user of several (:attr:`Ranked.persona`)
    """

    answers: tuple[Answer, ...] = ()
    said: tuple[str, ...] = ()
    said_no: tuple[str, ...] = ()
    enjoys: tuple[str, ...] = ()
    popular: str | None = None
    against: tuple[str, ...] = ()
    side: str | None = None

    @property
    def personal(self) -> bool:
        """Whether the reason cites the user's own answers or statements."""
        return bool(self.answers or self.said or self.said_no)


class Recommender(Scorer):
    """The top k of one pack, for any :class:`Taste`, ranked by the :class:`~prefchat.reward.scoring.Scorer`'s scores.

    Parameters
    ----------
    pack : Pack
    beta : the weight of the summary, generated and stated alike; default the pack's, validated for
        each objective on its own scale (:meth:`~prefchat.reward.pack.Pack.beta`)
    """

    def rank(self, taste: Taste, k: int = 10, *, candidates: Candidates | None = None, exclude: Sequence[int] | np.ndarray = (),
             only: Sequence[int] | np.ndarray | None = None, discount: float | None = None) -> list[Ranked]:
        r"""The ``k`` best items (of the catalog, or ``candidates``) for ``taste``, best first, ties broken by lower index.

        Parameters
        ----------
        taste : Taste
        k : how many to return (fewer when fewer remain)
        candidates : texts to rank instead of the catalog (by "prefer")
        exclude : indices (into the catalog, or into ``candidates``) never returned
        only : indices to rank among (default: all), e.g. a single item to say why it scores as it does
        discount : the exposure control :math:`\gamma \ge 0` of a "watch" catalog ranking; default
            the pack's validated :attr:`~prefchat.reward.pack.Pack.exposure_discount`
        """
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        association = self._index.association if candidates is None else self._associations(candidates)
        scoring = self.scoring(taste, candidates, discount, association)
        scores = scoring.scores() if candidates is not None else self.calibrated(taste, scoring.scores())
        excluded = _indices(exclude, len(scores), "exclude")
        if only is not None:
            excluded = np.union1d(excluded, np.setdiff1d(np.arange(len(scores)), _indices(only, len(scores), "only")))
        centre = self._index.centre
        picks = top_k(scores, k, excluded)
        sides = self.sides(taste) if candidates is None else None
        personas: list[Persona] = []
        if sides is not None:
            personas = [Persona(p, group, float(share), name) for p, (group, share, name)
                        in enumerate(zip(sides[0].groups, sides[0].shares, taste_names(self.pack, sides[0])))]
        lifts = answer_lifts(self.pack, taste, self._prior_cov(taste.objective), scoring.features[picks], centre)
        leaning = answer_evidence(self.pack, taste.answers) if taste.answers else np.zeros(len(self.pack.descriptors))
        ranked = []
        cited = np.zeros(len(taste.answers), dtype=np.intp)  # how often each answer is cited in this list so far
        for i, lift in zip(picks, lifts, strict=True):
            i = int(i)
            axis_terms, high = _axis_terms(self.pack, scoring, i, centre)
            reason = _reason(self.pack, taste, lift, axis_terms, high, association[i] > self._index.thresholds, leaning, cited)
            persona = personas[sides[1][i]] if sides is not None else None
            if persona is not None:
                reason = replace(reason, side=persona.name)
            cited += np.array([any(a is answer for answer in reason.answers) for a in taste.answers], dtype=np.intp)
            why = self.words(reason)
            if candidates is None:
                item = self.pack.items[i]
                ranked.append(Ranked(i, item.item_id, item.title, float(scores[i]), why, item.text, reason, persona))
            else:
                text = candidates.texts[i]
                ranked.append(Ranked(i, None, text[:TITLE_LENGTH], float(scores[i]), why, text, reason))
        return ranked

    def words(self, reason: Reason) -> str:
        """A pick's reason in words (:func:`~prefchat.assistant.wording.pick_reason`): its answers by
        the cards the user saw, its descriptors as a sentence says them."""
        def spoken(descriptors: tuple[str, ...]) -> list[str]:
            return [wording.spoken(d) for d in descriptors]

        return wording.pick_reason(self._cited(reason.answers), spoken(reason.said), spoken(reason.said_no),
                                   spoken(reason.enjoys), reason.popular, spoken(reason.against), reason.side)

    def _cited(self, answers: Sequence[Answer]) -> list[tuple[str | None, list[str | None]]]:
        """Each cited answer as (the card picked, the cards passed over), by the names the cards showed
        (:func:`~prefchat.assistant.cards.card_name`); None names the average item feedback is compared with."""
        grouped = self.pack.groups is not None

        def name(item: int) -> str | None:
            return card_name(self.pack.items[item], grouped) if item < self.pack.n_items else None

        cited = []
        for answer in answers:
            choice = picked(answer)
            assert choice is not None  # a reason cites only answers that picked one
            cited.append((name(choice[0]), [name(o) for o in choice[1]]))
        return cited

    def _prior_cov(self, objective: str) -> np.ndarray:
        r""":math:`\Sigma_0` of a session of ``objective``."""
        return self.pack.serving.session_prior(objective).prior_cov

    def recommend(self, taste: Taste, k: int, discount: float | None = None) -> list[Ranked]:
        """The served top ``k`` of the catalog: :meth:`rank` without the items :meth:`left_out`, a
        stated like served strong enough to move the picks its way (:func:`like_factor`), and the
        items that go against fewer of the user's stated, measured preferences before those that go
        against more (:func:`stated_misses`: "no emoji please" puts every answer with emoji below
        every one without)."""
        exclude = self.left_out(taste)
        served = self.served(taste, k, exclude, discount)
        misses = stated_misses(self.pack, taste.summary)
        if not misses.any():
            return self.discovered(taste, self.rank(served, k, exclude=exclude, discount=discount), exclude)
        picks: list[Ranked] = []
        for level in np.unique(misses):
            if len(picks) == k:
                break
            tier = np.setdiff1d(np.flatnonzero(misses == level), exclude)
            if tier.size:
                picks += self.rank(served, k - len(picks), exclude=exclude, only=tier, discount=discount)
        return self.discovered(taste, picks, exclude)

    def discovered(self, taste: Taste, picks: list[Ranked], exclude: np.ndarray) -> list[Ranked]:
        """``picks`` with the discovery slot's item at the pack's :attr:`~prefchat.reward.pack.Pack.discovery_slot`
        (:func:`~prefchat.elicitation.social.with_discovery`): for a "watch" taste with friends on a pack with a
        known-items model, an item a friend of another taste loves and the user's posterior leaves uncertain
        (:meth:`~prefchat.elicitation.known.KnownModel.discovery`), outside ``exclude`` and the picks, with
        its own score and the reason :data:`~prefchat.assistant.wording.DISCOVERY`, which names no one."""
        model, slot = self.pack.known_model, self.pack.discovery_slot
        if model is None or taste.objective != "watch" or taste.social is None or not 1 <= slot <= len(picks):
            return picks
        j = model.discovery(taste.known, taste.social, np.union1d(exclude, [pick.index for pick in picks]))
        if j is None:
            return picks
        item = self.pack.items[j]
        found = Ranked(j, item.item_id, item.title, float(model.scores(taste.known, taste.social)[j]), wording.DISCOVERY,
                       item.text)
        by_index = {pick.index: pick for pick in picks} | {j: found}
        return [by_index[i] for i in with_discovery([pick.index for pick in picks], j, slot)]

    def left_out(self, taste: Taste) -> np.ndarray:
        """What a recommendation leaves out, sorted: the items ``taste`` knows, and those carrying a tag
        the user stated a dislike of (:func:`stated_exclusions`: "no horror please" is an instruction)."""
        known = np.fromiter(taste.left_out, dtype=np.intp, count=len(taste.left_out))
        return np.union1d(known, stated_exclusions(self.pack, taste.summary))

    def served(self, taste: Taste, k: int, exclude: np.ndarray, discount: float | None = None) -> Taste:
        r"""``taste`` with its stated likes' weights times their :func:`like_factor`.

        The score is linear in the factor :math:`f`, :math:`\mathrm{score}_f = \mathrm{score}_0 + f\, \ell`
        with :math:`\ell = \beta_\text{stated} \sum_{j \text{ liked}} w_j u_j z_{ij}`, so a stated like
        costs one catalog scoring (without the likes) and the few columns it names.
        """
        summary = taste.summary
        if summary is None:
            return taste
        carried = liked_carriers(self.pack, summary)
        if not carried.shape[1]:
            return taste
        without = self.scores(replace(taste, summary=scale_stated_likes(summary, 0.0)), discount=discount)
        index, stated_beta = self._index, self._beta(taste.objective, stated=True)
        liked = Summary("", tuple(w for w in summary.stated if w.weight > 0), 0, 0)
        lift = index.association @ (stated_beta * index.stated_unit * summary_weights(self.pack, liked))
        factor = like_factor(lambda f: without + f * lift, carried, k, exclude)
        return replace(taste, summary=scale_stated_likes(summary, factor))


@dataclass(frozen=True, eq=False)
class ServedScore:
    """``score(posterior) -> (n_items,)``: the catalog as the app ranks it for a session posterior of ``objective``.

    :meth:`Recommender.scores` of the :class:`Taste` a finished session serves
    (:func:`~prefchat.reward.scoring.served_taste`: its posterior, the summary's weights where the list reads
    them, and the items its answers show the user knows). The scoring the benchmark passes to :func:`~prefchat.elicitation.evaluate.evaluate`,
    so that it measures what is served; a class rather than a closure so that the benchmark's
    worker processes can take it. ``discount``: the exposure control, default the pack's; ``social``:
    the user's friends as evidence of the known-items model (:class:`~prefchat.reward.scoring.Taste`);
    ``as_of``: the moment the session is served at (:attr:`~prefchat.reward.scoring.Taste.as_of`), set
    per task by :meth:`at`.
    """

    pack: Pack
    objective: str
    discount: float | None = None
    social: SocialEvidence | None = None
    as_of: float | None = None

    def at(self, as_of: float | None) -> ServedScore:
        """This score served at the moment ``as_of`` (None: the latest the pack's data know)."""
        return replace(self, as_of=as_of)

    def __call__(self, posterior: Posterior) -> np.ndarray:
        taste = served_taste(self.pack, posterior, self.as_of, self.objective, self.social)
        return Recommender(self.pack).served_scores(taste, discount=self.discount)


def _axis_terms(pack: Pack, scoring: Scoring, i: int, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""What each base adds to item i's score against the catalog mean, and whether i sits above it.

    :math:`(c_k - \mu_{0k}) (\phi_k(i) - \bar\phi_k) / \kappa_i`; a calibrated score's base rate
    :math:`b = a + \phi^\top \mu_0` is how popular the item is, so its part,
    :math:`(b_i - \bar b) / \kappa_i`, counts to the popularity coordinate.
    """
    scale = scoring.scale if np.ndim(scoring.scale) == 0 else np.asarray(scoring.scale)[i]
    terms = (scoring.coef - scoring.centre) * (scoring.features[i] - centre) / scale
    high = scoring.features[i] > centre
    if np.ndim(scoring.offset) and "popularity" in pack.population_coordinates:
        k = pack.n_learned + pack.population_coordinates.index("popularity")
        base_mean = scoring.offset_mean + centre @ scoring.centre  # the mean of b, without computing every b
        terms[k] += (scoring.base_rate_logit(i) - base_mean) / scale
    return terms, high


def _indices(values: Sequence[int] | np.ndarray, n: int, name: str) -> np.ndarray:
    """``values`` as an index array, each in ``0..n-1``."""
    indices = np.asarray(values, dtype=np.intp).reshape(-1)
    outside = indices[(indices < 0) | (indices >= n)]
    if outside.size:
        raise ValueError(f"{name} holds index {outside[0]}, outside 0..{n - 1}")
    return indices


def answer_lifts(pack: Pack, taste: Taste, prior_cov: np.ndarray, features: np.ndarray, centre: np.ndarray) -> np.ndarray:
    r"""(n, n_answers) how much each of ``taste``'s answers lifted each item's personal score.

    The posterior mean is :math:`m = \mu_0 + \sum_p \Sigma_0 g_p`
    (:func:`~prefchat.elicitation.posterior.answer_pulls`), so on the learned bases :math:`L` item
    i's score against the catalog mean moves by

    .. math:: \ell_{ip} = \big(\phi_L(i) - \bar\phi_L\big)^\top \big(\Sigma_0 g_p\big)_L, \qquad
              \sum_p \ell_{ip} = \big(\phi_L(i) - \bar\phi_L\big)^\top (m - \mu_0)_L

    for answer p: the answers with the largest :math:`\ell_{ip}` are the ones whose winner is
    closest to item i in the model's terms, and the ones a reason names. The population
    coordinates are left out: that a user picks popular films is no taste to cite them for.

    Parameters
    ----------
    features : (n, n_bases) the items' features
    centre : (n_bases,) the catalog mean :math:`\bar\phi`, also the features of the average item
        feedback is compared with (index ``pack.n_items`` in an answer)
    """
    if not taste.answers:
        return np.zeros((len(features), 0))
    items = sorted({item for answer in taste.answers for item in answer.items})  # only the rows answered: no catalog copy
    row = {item: n for n, item in enumerate(items)}
    rows = np.vstack([pack.features[item] if item < pack.n_items else centre for item in items])
    answers = [KWayChoice(tuple(row[o] for o in a.options), row[a.chosen]) if isinstance(a, KWayChoice)
               else Comparison(row[a.item_a], row[a.item_b], a.choice) for a in taste.answers]
    pulls = answer_pulls(rows, taste.mean, prior_cov, answers)
    k = pack.n_learned
    return (np.asarray(features, dtype=np.float64)[:, :k] - centre[:k]) @ pulls[:, :k].T


def _reason(pack: Pack, taste: Taste, lift: np.ndarray, axis_terms: np.ndarray, high: np.ndarray, carried: np.ndarray,
            leaning: np.ndarray, cited: np.ndarray) -> Reason:
    r"""What moved one item up for ``taste`` (:class:`Reason`).

    ``lift``: (n_answers,) :func:`answer_lifts` of the item; cited are decided answers that lifted it,
    :math:`\ell_{ip} > 0`, by at least half the largest lift, at most :data:`WHY_ANSWERS`: the
    largest among those ``cited`` (n_answers,) least often in the list so far, so that a list does
    not give one answer as every pick's reason. Each moved the item up (what else did, popularity,
    is said beside). ``axis_terms``, ``high``: its
    :func:`_axis_terms`; ``carried``: (n_descriptors,) the descriptors it carries; ``leaning``:
    (n_descriptors,) :func:`~prefchat.assistant.summary.answer_evidence` of the user's answers.
    """
    order = [p for p in np.argsort(-lift, kind="stable") if lift[p] > 0 and picked(taste.answers[p]) is not None]
    close = [p for p in order if lift[p] >= 0.5 * lift[order[0]]]
    close.sort(key=lambda p: cited[p])  # stable: the largest lift among the least cited so far
    answers = tuple(taste.answers[p] for p in close[:WHY_ANSWERS])
    said: list[str] = []
    said_no: list[str] = []
    enjoys: list[str] = []
    against: list[str] = []
    columns = pack.serving.descriptors.columns
    for w in taste.summary.weights if taste.summary is not None else ():
        j = columns.get(w.descriptor)
        if j is None:
            continue
        if w.weight < 0 and carried[j]:
            against.append(w.descriptor)
        if w.stated:
            if w.weight > 0 and carried[j]:
                said.append(w.descriptor)
            elif w.weight < 0 and not carried[j]:
                said_no.append(w.descriptor)
        elif w.weight > 0 and carried[j] and leaning[j] >= 0 and not answers:
            enjoys.append(w.descriptor)
    total = axis_terms[axis_terms > 0].sum()
    popular = None
    for c, name in enumerate(pack.population_coordinates):
        k = pack.n_learned + c
        if axis_terms[k] > 0 and axis_terms[k] >= WHY_SHARE * total and high[k] and name in POPULATION_WORDS:
            popular = POPULATION_WORDS[name]
            break
    return Reason(answers, tuple(said[:WHY_DESCRIPTORS]), tuple(said_no[:WHY_DESCRIPTORS]),
                  tuple(enjoys[:WHY_DESCRIPTORS]), popular, tuple(against))

