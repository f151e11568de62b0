r"""The recommendation path: what a top k is made of, owned once.

The twin of the onboarding loop (:mod:`~prefchat.elicitation.onboarding`): the chat, the REST
API, the Python API, ``prefchat eval`` and the benchmarks all rank through one
:class:`Recommender`. What it is asked about a user is a :class:`~prefchat.reward.scoring.Taste`:
the posterior :math:`N(m, S)` of a session of some objective, the user's summary, and the items
the answers show the user knows. A served top k (:meth:`Recommender.recommend`) is

.. math:: \operatorname{top}_k\big(\mathrm{score}(i)\big), \qquad
          \mathrm{score}(i) = c(i) + \beta\, s(i) + \beta_\text{stated}\, s^\text{stated}(i),
          \quad i \notin \text{known} \cup \text{disliked},

each pick with its reason (:func:`_why`). Its parts:

- the **scores**: the score of the objective :math:`c(i)` (one scorer each), the exposure control
  and the summary and stated terms are the :class:`~prefchat.reward.scoring.Scorer`'s, which the
  Recommender is: the pack build chooses the summary's weights on those very scores
  (:mod:`~prefchat.reward.calibration`); a stated like is served at the first doubling of its
  weight that moves the picks its way (:meth:`Recommender.served`,
  :func:`~prefchat.reward.scoring.like_factor`);
- the **items left out**: those the answers show the user knows
  (:func:`~prefchat.elicitation.onboarding.known_items`), and on a tags pack those carrying a tag
  the user said they do not want (:func:`~prefchat.reward.scoring.stated_exclusions`);
- the **reasons** (:func:`_why`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..elicitation import Comparison, Posterior
from ..elicitation.metrics import top_k
from ..elicitation.onboarding import known_items
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
    stated_exclusions,
    stated_misses,
)
from . import wording
from .summary import Summary, scale_stated_likes, summarize, summary_weights

__all__ = [  # Taste, Candidates and what a statement does are the scorer's (prefchat.reward.scoring); the assistant reads them here
    "LIKE_FACTORS", "Candidates", "Ranked", "Recommender", "ServedScore", "Taste", "like_factor",
    "liked_carriers", "stated_exclusions", "stated_misses",
]

WHY_SHARE = 0.1
"""A reason is given only if it brings at least this share of the item's positive contributions."""
WHY_AXES = 2
"""At most this many axes in a reason (plus one summary descriptor)."""
POPULATION_WORDS = {"popularity": ("popular", "little known"), "quality": ("well rated", "lower rated")}
"""How a population coordinate reads at its high and low end."""


@dataclass(frozen=True)
class Ranked:
    """One recommendation.

    Attributes
    ----------
    index : position in the catalog, or in the caller's candidate list
    item_id : the catalog item id; None for a candidate text
    title : the item's title, or the start of the candidate text
    score : the item's score (see the module docstring)
    why : one sentence naming the user's preferences the item meets, e.g. "war: as you like"
    text : the item's text (what the user would read: a response, a description), or the candidate text
    """

    index: int
    item_id: str | None
    title: str
    score: float
    why: str
    text: str = ""


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
        scores = scoring.scores()
        excluded = _indices(exclude, len(scores), "exclude")
        if only is not None:
            excluded = np.union1d(excluded, np.setdiff1d(np.arange(len(scores)), _indices(only, len(scores), "only")))
        centre = self._index.centre
        ranked = []
        for i in top_k(scores, k, excluded):
            i = int(i)
            axis_terms, high = _axis_terms(self.pack, scoring, i, centre)
            why = _why(self.pack, axis_terms, high, association[i], taste.summary)
            if candidates is None:
                item = self.pack.items[i]
                ranked.append(Ranked(i, item.item_id, item.title, float(scores[i]), why, item.text))
            else:
                text = candidates.texts[i]
                ranked.append(Ranked(i, None, text[:TITLE_LENGTH], float(scores[i]), why, text))
        return ranked

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
        known = np.fromiter(taste.known, dtype=np.intp, count=len(taste.known))
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

    :meth:`Recommender.scores` of the :class:`Taste` a finished session serves: its posterior, the
    summary it writes (only where the pack's :meth:`~prefchat.reward.pack.Pack.beta` for the
    objective is not 0: otherwise the summary adds nothing) and the items its answers show the
    user knows. The scoring the benchmark passes to :func:`~prefchat.elicitation.evaluate.evaluate`,
    so that it measures what is served; a class rather than a closure so that the benchmark's
    worker processes can take it. ``discount``: the exposure control, default the pack's; ``social``:
    the user's friends as evidence of the known-items model (:class:`~prefchat.reward.scoring.Taste`).
    """

    pack: Pack
    objective: str
    discount: float | None = None
    social: SocialEvidence | None = None

    def __call__(self, posterior: Posterior) -> np.ndarray:
        summary = None
        if self.pack.beta(self.objective):
            skipped = sum(isinstance(answer, Comparison) and answer.choice == "skip" for answer in posterior.answers)
            summary = summarize(self.pack, posterior.mean, posterior.cov, len(posterior.answers), skipped,
                                answers=posterior.answers)
        taste = Taste(posterior.mean, posterior.cov, summary, self.objective, known_items(posterior.answers), self.social)
        return Recommender(self.pack).scores(taste, discount=self.discount)


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


def _why(pack: Pack, axis_terms: np.ndarray, high: np.ndarray, association: np.ndarray, summary: Summary | None) -> str:
    r"""One short sentence naming the user's own preferences item ``i`` meets (:func:`wording.pick_reason`).

    The summary's descriptors the item meets best (:math:`w_j z_{ij} \ge 1/2` of a stated
    weight's worth, at most :data:`WHY_AXES`), liked ones as "as you like" ("as you said" when
    stated, all of them), disliked ones it stays clear of as "not x"; else the learned axis on which the user's
    answers lift the item most, :math:`(c_k - \mu_{0k})(\phi_k(i) - \bar\phi_k)`, if it brings at
    least :data:`WHY_SHARE` of the item's positive contributions, named by a descriptor of that
    end the item carries ("sci-fi, which you pick more than most"). Popularity or rating is added only next to a personal reason, never alone.
    """
    liked: list[str] = []
    avoided: list[str] = []
    stated = True
    if summary is not None and summary.weights:
        by_name = {w.descriptor: w for w in summary.weights}
        row = association * summary_weights(pack, summary)  # w_j z_ij: positive where the item meets w_j
        for j in np.argsort(-row, kind="stable")[:WHY_AXES]:
            weight = by_name.get(pack.descriptors[int(j)])
            if weight is None or row[j] < 0.5 * abs(weight.weight):
                continue
            (liked if weight.weight > 0 else avoided).append(weight.descriptor)
            stated &= weight.stated
    learned = axis_terms[: pack.n_learned]
    total = axis_terms[axis_terms > 0].sum()
    axis = None
    if learned.size and learned.max() > 0 and learned.max() >= WHY_SHARE * total:
        k = int(np.argmax(learned))
        words = pack.axes[k].positive if high[k] else pack.axes[k].negative
        columns = pack.serving.descriptors.columns  # only a word the item itself carries (above the catalog mean)
        words = tuple(w for w in words if w in columns and association[columns[w]] > 0)
        axis = words[0] if words else None
    population = [(axis_terms[pack.n_learned + c], name) for c, name in enumerate(pack.population_coordinates)]
    best = max(population, default=(0.0, ""))
    popular = POPULATION_WORDS.get(best[1], ("",))[0] if best[0] > 0 and best[0] >= WHY_SHARE * total else None
    return wording.pick_reason(liked, avoided, stated, axis, popular)
