"""Is every reason true? Scripted users with fixed tastes, and every reason of their top 20 checked.

Through the public API (:class:`prefchat.Assistant`, the served path), each scripted user
onboards with 10 answers, then reads their top 20 (``recommend(k=20)``); then says one thing
in words that fits their taste ("I love horror", "no horror please", "I don't like emoji") and reads their
top 20 again (a statement the summary stores the other way round is reported, as misread).
The users are generated from the pack's own descriptors, so that there are many:

- on a pack of tags (MovieLens genres), per tag carried by at least :data:`MIN_CARRIERS` items,
  one user who always picks a card carrying it ("always the horror": the first such card, else
  the first card) and one who never does (the first card without it, else the first card);
- on a pack of measured or embedded descriptors (the default pack's styles), per descriptor,
  one user who always picks the card that has the most of it ("always the shorter answer",
  "always with examples") and one who picks the card with the least ("never emoji"); equal
  cards: "both".

Every reason (:attr:`~prefchat.assistant.recommender.Ranked.reason`, and its words
:attr:`~prefchat.assistant.recommender.Ranked.why`) is checked (:func:`check`). A reason is
**contradicted** when any part of it is false:

- its words are not the words of its parts (:func:`~prefchat.assistant.wording.pick_reason`), or
  it (or its pick's title) names a card "(answer 1)" rather than by what the card showed;
- a cited answer is not one the user gave (the card picked, over the cards passed over), or did
  not lift the item (:func:`~prefchat.assistant.recommender.answer_lifts` not above 0);
- "you said you enjoy d" / "you said no to d": the summary holds no such statement, or the
  item does not carry d / carries it;
- "you enjoy d": the summary does not list d among the likes, lists it among the dislikes, the
  user's answers lean away from d (:func:`~prefchat.assistant.summary.answer_evidence` below 0),
  the user's script avoids d, or the item does not carry d;
- "though you are not keen on d": the summary does not list d among the dislikes, or the item
  does not carry d; and a reason that does not say so of a dislike the item carries;
- "popular" / "well rated": the item is not above the catalog's (geometric) mean popularity / mean rating.

A reason is **personal** when it cites the user's own answers or statements. Reported beside:
how many picks the answers lifted overall (their lifts summing above 0), not only the answer
cited; and whether the list keeps the summary's word (:func:`unkept_likes`): the likes the summary
names that no pick of the top 20 carries ("Enjoys: horror" over a list without one horror film),
how many of a chaser's picks carry what they chase, and how many cards a session showed again. Issue 21 acceptance: 0 contradicted reasons over at least 100 scripted users across both
packs, and at least 90% of reasons personal.

    python bench/reason_check.py --pack default [--users 0] [--json OUT.json]
    python bench/reason_check.py --pack /path/to/movielens/pack
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from prefchat import Assistant  # noqa: E402
from prefchat.api import QuestionTurn, SessionOptions  # noqa: E402
from prefchat.assistant import wording  # noqa: E402
from prefchat.assistant.recommender import Ranked, Taste, answer_lifts  # noqa: E402
from prefchat.assistant.summary import answer_evidence  # noqa: E402
from prefchat.elicitation.posterior import Answer, picked  # noqa: E402
from prefchat.reward.pack import Pack  # noqa: E402
from prefchat.reward.summary import Summary  # noqa: E402

TOP = 20
ANSWERS = 10
ANSWER_NUMBER = re.compile(r"\(answer \d+\)")
"""How the default pack's titles once named a card: "(answer 1)" rather than what the user saw."""
MIN_CARRIERS = 20
"""A tag carried by fewer items makes no scripted user (the cards would hardly ever show it)."""


@dataclass(frozen=True)
class Script:
    """A scripted user: always picks the card with the most (``chase``) or the least of ``descriptor``."""

    descriptor: str
    chase: bool

    @property
    def name(self) -> str:
        return f"{'chase' if self.chase else 'avoid'}-{self.descriptor}".replace(" ", "_")

    def statement(self, tags: bool) -> str:
        """What the user then says in words, in the direction of their script: "I love horror", "no
        horror please" (on a pack of tags), "I don't like emoji"."""
        said = wording.spoken(self.descriptor)
        return f"I love {said}" if self.chase else f"no {said} please" if tags else f"I don't like {said}"


def scripts(pack: Pack) -> list[Script]:
    """Two scripted users per descriptor of the pack (per tag carried by at least :data:`MIN_CARRIERS` items)."""
    index = pack.serving.descriptors
    kept = [d for j, d in enumerate(pack.descriptors)
            if pack.descriptor_source != "tags" or index.carried[:, j].sum() >= MIN_CARRIERS]
    return [Script(d, chase) for d in kept for chase in (True, False)]


def choose(pack: Pack, script: Script, turn: QuestionTurn) -> str:
    """The script's answer to ``turn``: "a"/"b"/"both" for a pair, the picked card's item id for more."""
    index = pack.serving.descriptors
    j = index.columns[script.descriptor]
    rows = [pack.item_index[card.item_id] for card in turn.items]
    if pack.descriptor_source == "tags":
        fits = [bool(index.carried[i, j]) == script.chase for i in rows]
        position = fits.index(True) if any(fits) else 0
    else:
        values = index.association[rows, j] * (1 if script.chase else -1)
        if len(rows) == 2 and values[0] == values[1]:
            return "both"
        position = int(np.argmax(values))
    if len(rows) == 2:
        return "ab"[position]
    return turn.items[position].item_id


def onboard(assistant: Assistant, script: Script, user: str, seed: int) -> tuple[str, int]:
    """The scripted user's onboarding through the public API: their session id, and how many of the cards
    they were shown they had been shown before in the session."""
    turn = assistant.start(user, seed=seed)
    cards: list[str] = []
    while isinstance(turn, QuestionTurn):
        session = turn.session_id
        cards += [card.item_id for card in turn.items]
        turn = assistant.answer(session, choose(assistant.pack, script, turn), by_id=len(turn.items) > 2)
    return session, len(cards) - len(set(cards))


def given(assistant: Assistant, session: str) -> set[tuple[str, tuple[str, ...]]]:
    """The user's decided answers as the public API reports them: (the item picked, the items passed over)."""
    decided = set()
    for question, choice in assistant.answered(session):
        ids = [card.item_id for card in question.items]
        winner = {"a": ids[0], "b": ids[1]}.get(choice, choice)
        if winner in ids:
            decided.add((winner, tuple(sorted(i for i in ids if i != winner))))
    return decided


def _cited(pack: Pack, answer: Answer) -> tuple[str, tuple[str, ...]] | None:
    """A cited answer as (the item picked, the items passed over), by item id; None if it picked none."""
    choice = picked(answer)
    if choice is None:
        return None
    return pack.items[choice[0]].item_id, tuple(sorted(pack.items[o].item_id for o in choice[1]))


def taste_of(assistant: Assistant, user: str, session: str) -> Taste:
    """What the session knows of the user now: its posterior, the answers behind it, the user's summary."""
    state = assistant.state(session)
    posterior = state.posterior
    return Taste(posterior.mean, posterior.cov, assistant.summary(user), state.objective, answers=posterior.answers)


def check(assistant: Assistant, picks: Sequence[Ranked], script: Script, decided: set[tuple[str, tuple[str, ...]]],
          taste: Taste) -> Iterator[tuple[int, str]]:
    """What is false in each pick's reason for the user of ``script`` (their answers ``decided``, as
    :func:`given` reads them; their summary and posterior ``taste``): (the pick's rank, a message)
    per falsehood, none for a true reason."""
    pack, summary, answers = assistant.pack, taste.summary, taste.answers
    assert summary is not None
    index = pack.serving.descriptors
    lifts = answer_lifts(pack, taste, pack.serving.session_prior(taste.objective).prior_cov,
                         pack.features[[p.index for p in picks]], index.centre)
    leaning = answer_evidence(pack, answers)
    stated = {w.descriptor: w.weight for w in summary.stated}
    generated_likes = {w.descriptor for w in summary.weights if w.weight > 0 and not w.stated}
    log_popularity = np.log(np.maximum(pack.popularity, 1e-12)) if pack.popularity is not None else None
    for rank, (pick, lift) in enumerate(zip(picks, lifts, strict=True)):
        reason = pick.reason
        where = f"{pick.title!r}: {pick.why!r}"
        if reason is None:
            yield rank, f"{where}: no reason"
            continue
        carries = index.carried[pick.index]

        def carried(descriptor: str) -> bool:
            return bool(carries[index.columns[descriptor]])

        words = assistant.recommender.words(reason)
        if words != pick.why:
            yield rank, f"{where}: the words are not those of its parts ({words!r})"
        if ANSWER_NUMBER.search(pick.title + pick.why):
            yield rank, f"{where}: names an answer by its number, not by what its card showed"
        for answer in reason.answers:
            if _cited(pack, answer) not in decided or answer not in answers:
                yield rank, f"{where}: cites an answer the user did not give"
            elif lift[answers.index(answer)] <= 0:
                yield rank, f"{where}: cites an answer that did not lift it"
        for d in reason.said:
            if stated.get(d, 0.0) <= 0 or not carried(d):
                yield rank, f"{where}: 'you said you enjoy {d}' is false"
        for d in reason.said_no:
            if stated.get(d, 0.0) >= 0 or carried(d):
                yield rank, f"{where}: 'you said no to {d}' is false"
        for d in reason.enjoys:
            if (d not in generated_likes or d in summary.dislikes or leaning[index.columns[d]] < 0
                    or (d == script.descriptor and not script.chase) or not carried(d)):
                yield rank, f"{where}: 'you enjoy {d}' is false"
        for d in reason.against:
            if d not in summary.dislikes or not carried(d):
                yield rank, f"{where}: 'though you are not keen on {d}' is false"
        for d in summary.dislikes:
            if d in index.columns and carried(d) and d not in reason.against:
                yield rank, f"{where}: silent that it has {d}, which the summary says the user is not keen on"
        if reason.popular == "popular" and (log_popularity is None or log_popularity[pick.index] <= log_popularity.mean()):
            yield rank, f"{where}: it is not popular"
        if reason.popular == "well rated" and (pack.quality is None or pack.quality[pick.index] <= np.mean(pack.quality)):
            yield rank, f"{where}: it is not well rated"


def unkept_likes(pack: Pack, picks: Sequence[Ranked], summary: Summary) -> list[str]:
    """The descriptors the summary says the user enjoys (stated or not) that no pick carries."""
    index = pack.serving.descriptors
    carried = index.carried[[p.index for p in picks]]
    return [d for d in summary.likes if d in index.columns and not carried[:, index.columns[d]].any()]


def run(pack: str, n_users: int = 0, seeds: Sequence[int] = (0,)) -> dict[str, Any]:
    """Onboard the scripted users of ``pack`` (the first ``n_users`` of them; 0: all) once per seed,
    and check the reasons of their top :data:`TOP` before and after their statement."""
    options = SessionOptions(min_questions=ANSWERS, max_questions=ANSWERS, n_recommendations=TOP)
    rows: list[dict[str, Any]] = []
    false: list[str] = []
    misread: list[str] = []
    cards_again: list[int] = []
    with tempfile.TemporaryDirectory() as work, Assistant.open(pack=pack, db=Path(work) / "reasons.sqlite",
                                                             options=options) as assistant:
        chosen = scripts(assistant.pack)
        chosen = chosen[:n_users] if n_users else chosen
        for seed in seeds:
            for script in chosen:
                user = f"{script.name}-{seed}"
                session, again = onboard(assistant, script, user, seed)
                cards_again.append(again)
                decided = given(assistant, session)
                for phase in ("answers", "statement"):
                    if phase == "statement":
                        corrected = assistant.correct(user, script.statement(assistant.pack.descriptor_source == "tags"))
                        if corrected is None:
                            continue
                        misread += [f"{user}: {w.descriptor} {w.weight:+}" for w in corrected.stated
                                    if w.descriptor == script.descriptor and (w.weight > 0) != script.chase]
                    taste, picks = taste_of(assistant, user, session), assistant.recommend(user, k=TOP)
                    problems = list(check(assistant, picks, script, decided, taste))
                    lifts = answer_lifts(assistant.pack, taste, assistant.pack.serving.session_prior(taste.objective).prior_cov,
                                         assistant.pack.features[[p.index for p in picks]], assistant.pack.serving.descriptors.centre)
                    false += [f"{user} ({phase}): {message}" for _, message in problems]
                    assert taste.summary is not None
                    column = assistant.pack.serving.descriptors.columns[script.descriptor]
                    chased = int(assistant.pack.serving.descriptors.carried[[p.index for p in picks], column].sum())
                    rows.append({"user": user, "phase": phase, "summary": taste.summary.text if taste.summary else "",
                                 "reasons": len(picks), "personal": sum(bool(p.reason and p.reason.personal) for p in picks),
                                 "contradicted": len({rank for rank, _ in problems}), "n_answers": len(taste.answers),
                                 "lifted_overall": int((lifts.sum(1) > 0).sum()),
                                 "unkept_likes": unkept_likes(assistant.pack, picks, taste.summary),
                                 "chases": script.chase, "chased_picks": chased,
                                 "examples": [f"{p.title}: {p.why}" for p in picks[:3]]})
    reasons = sum(r["reasons"] for r in rows)
    return {"pack": pack, "users": len({r["user"] for r in rows}), "reasons": reasons,
            "contradicted": sum(r["contradicted"] for r in rows), "personal": sum(r["personal"] for r in rows),
            "personal_share": sum(r["personal"] for r in rows) / max(reasons, 1),
            "lifted_overall": sum(r["lifted_overall"] for r in rows),
            "lists_with_unkept_likes": sum(bool(r["unkept_likes"]) for r in rows),
            "chasers_without_their_descriptor": sum(r["chases"] and not r["chased_picks"] for r in rows),
            "chaser_lists": sum(r["chases"] for r in rows),
            "cards_again_per_session": float(np.mean(cards_again)) if cards_again else 0.0,
            "sessions_with_a_card_again": sum(again > 0 for again in cards_again),
            "misread_statements": misread, "false": false[:50], "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", default="default")
    parser.add_argument("--users", type=int, default=0, help="the first N scripted users only (0: all)")
    parser.add_argument("--seeds", type=int, default=1, help="onboard every scripted user this many times, seeds 0..N-1")
    parser.add_argument("--json", type=Path, help="write the full report here")
    args = parser.parse_args()
    report = run(args.pack, args.users, range(args.seeds))
    print(f"{report['pack']}: {report['users']} scripted users, {report['reasons']} reasons, "
          f"{report['contradicted']} contradicted, {report['personal']} personal ({report['personal_share']:.1%})")
    for problem in report["false"][:10]:
        print("  FALSE", problem)
    summary = {k: v for k, v in report.items() if k != "rows"}
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
