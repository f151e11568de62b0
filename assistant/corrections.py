r"""Corrections in words: "actually I love musicals", "no horror please", "less emoji".

:func:`parse_correction` finds the descriptors a message names and whether it likes or dislikes
them, with negation scoped as chat messages need; :func:`~prefchat.assistant.summary.apply_correction`
then stores them in the summary as stated weights.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

import numpy as np

from ..reward.descriptors import NEGATED
from ..reward.naming import TEXT_MEASURES, descriptor_groups
from ..reward.pack import Pack
from .summary import STATED_WEIGHT

__all__ = ["example_correction", "parse_correction"]

MATCH_THRESHOLD = 0.5
"""Least cosine similarity between a phrase and a descriptor for a match (all-MiniLM-L6-v2 puts
unrelated short phrases at 0.2-0.45 and near-synonyms, "musicals"/"musical", at 0.8)."""
MATCH_MARGIN = 0.1
"""Further descriptors match a phrase only within this similarity of the best one."""
MAX_MATCHES = 3
"""At most this many descriptors per phrase."""

LIKE = frozenset({"love", "loves", "loved", "like", "likes", "liked", "prefer", "prefers", "enjoy", "enjoys", "adore",
                  "want", "wants", "fan", "into", "keen", "favourite", "favorite", "rather", "appreciate", "need"})
DISLIKE = frozenset({"hate", "hates", "dislike", "dislikes", "avoid", "stop", "detest", "skip", "ditch", "drop", "tired"})
MORE = frozenset({"more", "lots"})
LESS = frozenset({"less", "fewer", "lose"})
EXCESS = frozenset({"too", "overly"})
COMPARATIVES = frozenset({"shorter", "longer", "simpler", "briefer", "clearer", "warmer", "calmer", "funnier", "friendlier",
                          "easier", "deeper", "lighter", "plainer", "livelier", "gentler", "bolder", "tighter"})
"""Comparatives ask for more of what they name on their own ("no jokes and shorter answers please":
shorter is wanted): a phrase they open is marked, as after "more", not left to share a list's marker."""
REQUESTS = frozenset({"use", "give", "keep", "make", "add", "include", "be", "show", "write"})
"""Imperatives that ask for what follows ("use numbered steps", "keep it short"), when no other
verb governs the clause ("stop using emoji" stays a dislike)."""
NEGATIONS = frozenset({"no", "not", "never", "don't", "dont", "doesn't", "didn't", "isn't", "aren't", "won't", "can't",
                       "cannot", "without", "nor", "none", "neither"})
FILLER = frozenset({"i", "i'm", "i'd", "im", "me", "my", "we", "you", "it", "its", "it's", "they", "them", "a", "an", "the",
                    "of", "on", "to", "for", "with", "about", "in", "at", "please", "actually", "really", "very", "much",
                    "just", "any", "some", "all", "do", "does", "am", "is", "are", "be", "would", "should", "could",
                    "thanks", "thank", "lot", "big", "huge", "kind", "sort", "things", "stuff", "anymore", "also", "bit",
                    "little", "have", "get", "give", "use", "using", "way", "those", "these", "that", "this", "one",
                    "ones", "answers", "answer", "responses", "response", "replies", "reply", "movies", "movie", "films",
                    "film", "there", "if", "than", "what", "when", "though", "keep", "make", "being",
                    "well", "quite", "pretty", "rather", "instead", "usually", "always", "generally", "personally",
                    "maybe", "ok", "okay", "fine", "now", "then", "prefer", "so", "tone", "style"})
CONJUNCTIONS = frozenset({"and", "or", "&", "plus", "nor", "with"})
_MARKERS = LIKE | DISLIKE | MORE | LESS | EXCESS | NEGATIONS | FILLER | CONJUNCTIONS | REQUESTS
_TOKEN = re.compile(r"[a-z0-9&]+(?:[-'][a-z0-9]+)*")
_CLAUSE = re.compile(r"[,;.!?]+|\bbut\b|\bexcept\b")


EXCESSIVE = 2
"""The local sign of a phrase after "too": a dislike whatever governs it."""


def _clause_phrases(tokens: list[str], inherited: int | None) -> tuple[list[tuple[int, str]], int | None]:
    """The object phrases of one clause with their polarity, and the clause's verb polarity.

    Negation has a scope (Jespersen's "nexal" vs "special" negation, kept to what chat messages
    need): a negation before a like/dislike verb flips the verb ("I don't like horror", "not a fan
    of slapstick") and so every phrase the verb governs; a negation, "less"/"fewer" or "too" right
    before a phrase flips that phrase alone ("shorter answers and no jokes", "not too long"). "or"
    and "nor" carry a phrase's negation on ("no jokes or emoji"); without a verb, so does "and"
    ("more musicals and slapstick", "no horror and romance please"). A clause without a verb
    inherits the previous clause's ("I love musicals, not horror"), or asks for what it lists
    when it says "please".
    """
    verb: int | None = None
    pending, marked, excess = 1, False, False
    phrases: list[tuple[int, str]] = []
    current: list[str] = []
    local, local_marked = 1, False

    def flush(carry: bool) -> None:
        nonlocal current, local, local_marked, pending, marked
        if current:
            phrases.append((local if local_marked else 0, " ".join(current)))
        if carry and current and local_marked:
            pending, marked = local, True
        current, local, local_marked = [], 1, False

    for token in tokens:
        if token in LIKE or token in DISLIKE or (token in REQUESTS and verb is None):
            flush(False)
            verb = (-1 if token in DISLIKE else 1) * pending
            pending, marked, excess = 1, False, False
        elif token in REQUESTS:
            continue
        elif token in NEGATIONS or token in LESS or token in MORE or token in EXCESS:
            if current:  # "answers without emoji": a marker inside a phrase starts a new one
                flush(False)
            if token in EXCESS:
                excess = True
                marked = True
            else:
                pending *= 1 if token in MORE else -1
                marked = True
        elif token in CONJUNCTIONS:
            flush(token in ("or", "nor"))
            excess = False
        elif token in FILLER:
            continue
        else:
            if not current:
                local, local_marked = (EXCESSIVE if excess else pending), marked or token in COMPARATIVES
                pending, marked, excess = 1, False, False
            current.append(token)
    flush(False)
    # "please" asks for what the clause lists ("beginner friendly please"), but is no verb: the
    # list still shares its marker ("no horror and romance please" dislikes both, as without "please")
    governing = verb if verb is not None else 1 if "please" in tokens else inherited
    result: list[tuple[int, str]] = []
    for local_sign, phrase in phrases:
        if local_sign == EXCESSIVE:  # "not too long", "don't be too formal": too much of it, whatever the verb
            result.append((-1, phrase))
        elif verb is None and local_sign == 0 and result:  # "more musicals and slapstick": the list shares the marker
            result.append((result[-1][0], phrase))
        elif governing is None and local_sign == 0:
            result.append((0, phrase))
        else:
            result.append(((governing if governing is not None else 1) * (local_sign or 1), phrase))
    return result, governing


def _whole_names(tokens: list[str], names: list[tuple[str, ...]]) -> list[str]:
    """``tokens`` with every run that spells one of ``names`` joined into one token, longest first.

    A descriptor whose name holds a conjunction ("long and detailed", "cautious with caveats") is
    one phrase, not two: split at its "and", "no long and detailed please" would dislike "long"
    and then, "detailed" being unmarked, like "detailed" (and so "long and detailed"). Joined,
    the negation before it holds for the whole name. "&" spells "and".
    """
    spelled = ["and" if token == "&" else token for token in tokens]
    result: list[str] = []
    start = 0
    while start < len(tokens):
        name = next((name for name in names if tuple(spelled[start:start + len(name)]) == name), None)
        if name is None:
            result.append(tokens[start])
            start += 1
        else:
            result.append(" ".join(name))
            start += len(name)
    return result


def _conjoined_names(descriptors: list[str]) -> list[tuple[str, ...]]:
    """The tokens of each descriptor whose name holds a conjunction (for :func:`_whole_names`, "&"
    spelled "and"), longest first."""
    names = {tuple("and" if token == "&" else token for token in _TOKEN.findall(d.lower())) for d in descriptors}
    return sorted((name for name in names if len(name) > 1 and CONJUNCTIONS & set(name)), key=len, reverse=True)


def _match_targets(pack: Pack, embed: Callable[[list[str]], np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Embeddings a phrase is matched against, the sign a match carries and the descriptor each is of.

    Every descriptor, and each of its content words ("short" of "short and concise": people say
    "shorter", not the vocabulary's phrase). A descriptor that is itself negative ("answers
    without emoji") is matched by its core ("emoji") with sign -1, so "less emoji" gives it a
    positive weight rather than a negative one.
    """
    texts, signs, owners = [], [], []
    for j, descriptor in enumerate(pack.descriptors):
        match = NEGATED.match(descriptor)
        core, sign = (match.group(1), -1.0) if match else (descriptor, 1.0)
        words = [w for w in _TOKEN.findall(core) if w not in _MARKERS] if " " in core else []
        for text in dict.fromkeys([core, *words]):
            texts.append(text)
            signs.append(sign)
            owners.append(j)
    own = {d: j for j, d in enumerate(pack.descriptors)}
    embedded = np.asarray(embed(texts), dtype=np.float64) if texts else np.zeros((0, pack.descriptor_embeddings.shape[1]))
    for row, text in enumerate(texts):  # the descriptors' own embeddings, as the pack stores them
        if own.get(text) == owners[row] and signs[row] > 0:
            embedded[row] = pack.descriptor_embeddings[owners[row]]
    return embedded, np.array(signs), np.array(owners)


def _best_per_descriptor(similarity: np.ndarray, owners: np.ndarray, n_descriptors: int) -> np.ndarray:
    """(n_phrases, n_descriptors): each descriptor's best similarity over its targets."""
    best = np.full((similarity.shape[0], n_descriptors), -np.inf)
    for column, owner in enumerate(owners):
        best[:, owner] = np.maximum(best[:, owner], similarity[:, column])
    return best


def _nearest(similarity: np.ndarray) -> list[int]:
    """Columns matching one phrase: above :data:`MATCH_THRESHOLD`, within :data:`MATCH_MARGIN` of
    the best, at most :data:`MAX_MATCHES`, most similar first."""
    order = np.argsort(-similarity, kind="stable")[:MAX_MATCHES]
    floor = max(MATCH_THRESHOLD, similarity[order[0]] - MATCH_MARGIN)
    return [int(j) for j in order if similarity[j] >= floor]


def _one_per_group(pack: Pack, weights: dict[str, float]) -> dict[str, float]:
    """Stated weights with each group's direction stated once, by a descriptor that is no negation.

    "I like emoji" matches "uses emoji" (+) and the core of "answers without emoji" (-): one
    direction, kept as ``{"uses emoji": +w}``; "less emoji" becomes ``{"uses emoji": -w}``.
    """
    group, sign = descriptor_groups(pack.descriptors, pack.descriptor_definitions)
    column = {d: j for j, d in enumerate(pack.descriptors)}
    negated = [bool(NEGATED.match(d)) for d in pack.descriptors]
    result: dict[str, float] = {}
    done: set[int] = set()
    for descriptor in weights:
        j = column[descriptor]
        if group[j] in done:
            continue
        done.add(int(group[j]))
        members = np.flatnonzero(group == group[j])
        direction = sum(w * sign[column[d]] for d, w in weights.items() if column[d] in members)
        if direction == 0:
            continue
        plain = [int(m) for m in members if not negated[m]] or [int(m) for m in members]
        liked = [m for m in plain if sign[m] * direction > 0]
        chosen = j if j in plain else (liked[0] if liked else plain[0])
        result[pack.descriptors[chosen]] = float(np.sign(direction * sign[chosen]) * STATED_WEIGHT)
    return result


def parse_correction(pack: Pack, text: str, embed: Callable[[list[str]], np.ndarray]) -> dict[str, float] | None:
    """Descriptor weights a user states in words, e.g. "actually I love musicals" -> ``{"musical": +0.5}``.

    Each clause (split at punctuation, "but" and "except") is read by :func:`_clause_phrases`:
    object phrases (content words, split at conjunctions and at negations, but a descriptor named
    with a conjunction, "long and detailed", kept whole: :func:`_whole_names`) each with a polarity
    from the verb that governs it and the negation in its own scope ("I prefer shorter answers
    and no jokes": shorter +, jokes -). Each phrase is embedded and matched to the nearest
    descriptors (:func:`_nearest`); every match gets weight :math:`\\pm` :data:`STATED_WEIGHT`, a
    later phrase overriding an earlier one, and a direction the pack names by several
    descriptors is stated once (:func:`_one_per_group`).

    Parameters
    ----------
    text : what the user wrote
    embed : ``embed(texts) -> (n, d)`` unit-norm embeddings, with the pack's model

    Returns
    -------
    dict descriptor -> weight, or None when no phrase with a polarity matches a descriptor
    (the caller asks again)
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a string, got {text!r}")
    wanted: list[tuple[int, str]] = []
    polarity = None
    names = _conjoined_names(pack.descriptors)
    for clause in _CLAUSE.split(text.lower().replace("\u2019", "'")):
        phrases, polarity = _clause_phrases(_whole_names(_TOKEN.findall(clause), names), polarity)
        wanted += phrases
    if any(sign for sign, _ in wanted):  # "short answers with examples, no emoji": a list of wishes
        wanted = [(sign or 1, phrase) for sign, phrase in wanted]
    wanted = [(sign, phrase) for sign, phrase in wanted if sign]
    if not wanted or not pack.descriptors:
        return None
    targets, signs, owners = _match_targets(pack, embed)
    similarity = _best_per_descriptor(np.asarray(embed([phrase for _, phrase in wanted]), dtype=np.float64) @ targets.T,
                                      owners, len(pack.descriptors))
    sign_of = np.ones(len(pack.descriptors))
    sign_of[owners] = signs
    weights: dict[str, float] = {}
    for (polarity, _), row in zip(wanted, similarity):
        for j in _nearest(row):
            weights.pop(pack.descriptors[j], None)
            weights[pack.descriptors[j]] = float(polarity * sign_of[j] * STATED_WEIGHT)
    return _one_per_group(pack, weights) or None


def example_correction(pack: Pack) -> str:
    """A correction this pack can act on, for the chat to suggest: the pack's own words, not another domain's.

    On a tags pack, a dislike of the first tag that names one of the pack's axes ("no drama
    please": a film pack never suggests "shorter answers"; the tag most items carry can be
    bookkeeping, "in netflix queue"), else of the tag most items carry; on a vocabulary pack, a like of the first descriptor defined as
    *less* of a text measure ("actually I prefer short and concise", counted, so the picks visibly
    follow); else the first descriptor. :func:`parse_correction` reads each back as the
    preference it states (a test holds it).
    """
    if not pack.descriptors:
        return ""
    if pack.descriptor_source == "tags":
        named = [tag for axis in pack.axes for tag in (*axis.negative, *axis.positive) if tag in pack.descriptors]
        if named:  # a tag that names a taste the bases learned, not a bookkeeping tag such as "in netflix queue"
            return f"no {named[0]} please"
        carried = Counter(tag for item in pack.items for tag in item.tags)
        return f"no {max(pack.descriptors, key=lambda tag: carried[tag])} please"
    definitions = pack.descriptor_definitions
    fewer = [d for d in pack.descriptors
             if definitions.get(d, "").startswith("-") and definitions[d].removeprefix("-") in TEXT_MEASURES]
    return f"actually I prefer {(fewer or pack.descriptors)[0]}"
