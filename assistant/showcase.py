"""What a profile does on questions the user never saw: the pack's held-out prompts, ranked for them.

On a pack that holds prompts out of training (the default pack), a result shows, for a few of
them, the response ranked first for the user and the crowd's first when it differs
(:class:`~prefchat.assistant.turns.Showcase`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from ..elicitation.posterior import Answer
from ..reward.descriptors import text_associations
from ..reward.pack import Pack
from .intents import Embed
from .recommender import Candidates, Recommender, Taste
from .summary import Summary
from .turns import Showcase

__all__ = ["SHOWCASE", "HeldOutPrompts", "ShowcasePrompt"]

SHOWCASE = 3
"""Held-out prompts a result shows the user's pick for (on packs that hold prompts out)."""


@dataclass(frozen=True, eq=False)
class ShowcasePrompt:
    """A prompt the pack held out, with its responses as candidates (their associations computed once)."""

    text: str
    responses: Candidates


class HeldOutPrompts:
    """The held-out prompts of a pack, and each user's pick among their responses.

    Parameters
    ----------
    recommender : the pack's :class:`~prefchat.assistant.recommender.Recommender`
    embed : the pack's sentence embedder; without one there is nothing to show
    """

    def __init__(self, recommender: Recommender, embed: Embed | None):
        self.recommender, self.embed = recommender, embed
        self._prompts: tuple[ShowcasePrompt, ...] | None = None
        self._lock = threading.Lock()

    @property
    def pack(self) -> Pack:
        return self.recommender.pack

    def shown(self, mean: np.ndarray, summary: Summary | None, n: int = SHOWCASE,
              answers: tuple[Answer, ...] = ()) -> tuple[Showcase, ...]:
        """For ``n`` prompts the pack never trained on, the response ranked first for a user of
        coefficients ``mean`` ("prefer": a "watch" profile less the pack's exposure offset) and
        ``summary``, and the crowd's first when it differs. Empty for other packs, or without an embedder.
        ``answers``: those ``mean`` is the "prefer" MAP of, cited in the reasons (:class:`~prefchat.assistant.recommender.Taste`)."""
        shown = []
        for prompt in self.prompts()[:n]:
            mine = self.recommender.rank(Taste(mean, summary=summary, answers=answers), 1, candidates=prompt.responses)[0]
            crowd = self.recommender.rank(Taste(self.pack.prior_mean), 1, candidates=prompt.responses)[0]
            shown.append(Showcase(prompt.text, mine.text, mine.why, None if crowd.index == mine.index else crowd.text))
        return tuple(shown)

    def prompts(self) -> tuple[ShowcasePrompt, ...]:
        """The held-out prompts :meth:`shown` may show (empty without an embedder, or on packs that
        hold no prompt out).

        Computed on first use and kept: they depend on the pack alone. A server calls it before it
        serves (:mod:`prefchat.ui.commands`), so that no request, holding its session's lock, waits
        for the embedding model to load.
        """
        if self.embed is None or not self.pack.provenance.get("showcase"):
            return ()
        with self._lock:
            if self._prompts is None:
                showcase = []
                for held_out in self.pack.provenance["showcase"]:  # written by prefchat.default.build
                    responses = list(held_out["responses"])
                    embeddings = self.embed(responses)
                    candidates = Candidates(responses, embeddings, text_associations(self.pack.serving.descriptors, embeddings, responses))
                    showcase.append(ShowcasePrompt(held_out["prompt"], candidates))
                self._prompts = tuple(showcase)
            return self._prompts
