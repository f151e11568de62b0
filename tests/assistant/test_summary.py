"""Semantic summaries: planted known answers, corrections in words, round trips."""

import json
import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefchat.assistant import wording
from prefchat.assistant.corrections import parse_correction
from prefchat.assistant.summary import (
    STATED,
    STATED_WEIGHT,
    DescriptorWeight,
    Summary,
    answer_evidence,
    apply_correction,
    confidence_level,
    descriptor_correlations,
    stated_affinity,
    summarize,
    summary_affinity,
)
from prefchat.elicitation.confidence import MIN_HIGH_ANSWERS, ConfidenceThresholds, answer_fit
from prefchat.elicitation.posterior import Comparison
from prefchat.reward.descriptors import text_associations
from prefchat.reward.naming import column_correlations, descriptor_matrix
from prefchat.reward.pack import Axis, Item, Pack

TAGS = ("x", "y", "musical", "horror", "slapstick")


def planted(small_pack) -> Pack:
    """40 items, eight per tag of TAGS; learned base 0 is +1 on "x" items, -1 on "y" items (plus
    noise), base 1 is noise; then the population coordinates popularity and quality."""
    rng = np.random.default_rng(11)
    n_items, n_learned = 40, 2
    tags = [TAGS[i // 8] for i in range(n_items)]
    items = [Item(f"m{i}", f"Movie {i}", f"{tag} story number {i}", (tag,)) for i, tag in enumerate(tags)]
    planted = np.array([{"x": 1.0, "y": -1.0}.get(tag, 0.0) for tag in tags])
    learned = np.column_stack([planted + 0.1 * rng.normal(size=n_items), rng.normal(size=n_items)])
    population = rng.normal(size=(n_items, 2))
    return small_pack(
        items, n_learned=n_learned, seed=11, manifest={"name": "planted"},
        features=np.hstack([learned - learned.mean(0), population]),
        new_item_population=population.mean(0),
        prior_mean=np.array([0.0, 0.3, 0.5, 0.5]),
        popularity=np.ones(n_items),
        quality=np.ones(n_items),
        axes=[Axis(0, "x vs y", ("x",), ("y",)), Axis(1, "musical vs horror", ("musical",), ("horror",))],
    )


@pytest.fixture(scope="module")
def planted_pack(small_pack) -> Pack:
    return planted(small_pack)


@pytest.fixture(scope="module")
def content_pack(planted_pack) -> Pack:
    """The planted pack with a vocabulary (embedding) association instead of tags."""
    return replace(planted_pack, manifest={**planted_pack.manifest, "descriptor_source": "vocabulary"})


def x_lover(pack, strength=3.0, width=0.01):
    """Posterior of a user far along learned base 0 (the "x" end), narrow by default."""
    mean = pack.prior_mean + np.array([strength, 0.0, 0.0, 0.0])
    return mean, width * np.eye(pack.n_bases)


# --------------------------------------------------------------------------- affinities


def test_correlations_equal_pearson_over_the_catalog(planted_pack):
    coef = np.array([0.7, -1.3])
    reward = planted_pack.features[:, :2] @ coef
    matrix = descriptor_matrix("tags", planted_pack.items, planted_pack.descriptors, planted_pack.embeddings,
                               planted_pack.descriptor_embeddings)
    expected = column_correlations(reward[:, None], matrix)[0]
    got = descriptor_correlations(planted_pack.serving.descriptors, coef)
    np.testing.assert_allclose(got, expected, atol=1e-12)
    many = descriptor_correlations(planted_pack.serving.descriptors, np.stack([coef, 2 * coef, -coef]))
    np.testing.assert_allclose(many, [expected, expected, -expected], atol=1e-12)


def test_zero_coefficients_correlate_with_nothing(planted_pack):
    assert not descriptor_correlations(planted_pack.serving.descriptors, np.zeros(2)).any()


def test_index_is_computed_once_per_pack(planted_pack, content_pack):
    assert planted_pack.serving.descriptors is planted_pack.serving.descriptors
    assert content_pack.serving.descriptors is not planted_pack.serving.descriptors


# --------------------------------------------------------------------------- summaries


def test_user_along_base_0_enjoys_x_and_is_not_keen_on_y(planted_pack):
    summary = summarize(planted_pack, *x_lover(planted_pack), n_answers=10, n_skipped=1)
    by_name = {w.descriptor: w for w in summary.weights}
    assert by_name["x"].weight > 0.5 and by_name["x"].level == "high"
    assert by_name["y"].weight < -0.1
    assert summary.weights[0].descriptor == "x"
    assert summary.text.startswith("Enjoys: x")
    assert "Not keen on: y" in summary.text
    assert summary.confidence is None  # the planted pack records no confidence thresholds
    assert summary.text.endswith(wording.CONFIDENCE[None].format(answers="10 answers, 1 skipped"))


def test_a_descriptor_is_never_said_against_the_users_own_choices(planted_pack):
    """The posterior leans far towards "x"; every answer the user gave picked a "y" item over an
    "x" one. Whatever the posterior says, the summary does not tell this user they enjoy "x"."""
    mean, cov = x_lover(planted_pack)
    answers = [Comparison(x, y, "b") for x, y in zip(range(0, 8), range(8, 16))]
    without = summarize(planted_pack, mean, cov, 8, 0)
    assert "x" in without.likes
    summary = summarize(planted_pack, mean, cov, 8, 0, answers=answers)
    evidence = answer_evidence(planted_pack, answers)
    assert evidence[0] < 0 < evidence[1]
    assert "x" not in summary.likes and "y" not in summary.dislikes
    for w in summary.weights:
        assert np.sign(evidence[planted_pack.descriptors.index(w.descriptor)]) == w.sign, summary.text


def test_answer_evidence_is_the_t_statistic_of_the_winners_lead_an_outside_item_at_zero(planted_pack):
    """Known answer of t_j = mean(d) / sqrt((mean(d^2) + 1e-3) / n), d = z(winner) - z(loser); an
    item outside the catalog (feedback's reference item, index n_items) counts as z = 0."""
    z = planted_pack.serving.descriptors.association
    outside = planted_pack.n_items
    answers = [Comparison(0, 9, "a"), Comparison(3, 12, "b"), Comparison(5, outside, "a"), Comparison(1, 2, "tie")]
    d = np.stack([z[0] - z[9], z[12] - z[3], z[5]])
    expected = d.mean(0) / np.sqrt(((d**2).mean(0) + 1e-3) / 3)
    np.testing.assert_allclose(answer_evidence(planted_pack, answers), expected, rtol=1e-12)


def test_user_at_the_prior_mean_has_no_strong_preferences(planted_pack):
    summary = summarize(planted_pack, planted_pack.prior_mean, planted_pack.prior_cov, 0, 0)
    assert summary.weights == ()
    assert summary.text == f"No strong preferences yet. {wording.NO_ANSWERS}"


def test_population_coefficients_are_not_taste(planted_pack):
    mean = planted_pack.prior_mean + np.array([0.0, 0.0, 5.0, -5.0])
    assert summarize(planted_pack, mean, 0.01 * np.eye(4), 10, 0).weights == ()


def test_a_wide_posterior_is_less_confident(planted_pack):
    mean, narrow = x_lover(planted_pack, strength=0.5)
    sure = summarize(planted_pack, mean, narrow, 10, 0)
    unsure = summarize(planted_pack, mean, 25 * planted_pack.prior_cov, 10, 0)
    assert {w.descriptor: w.level for w in sure.weights}["x"] == "high"
    assert {w.descriptor: w.level for w in unsure.weights}.get("x", "low") in ("low", "medium")


def test_summary_is_deterministic_and_capped_by_top(planted_pack):
    mean, cov = x_lover(planted_pack)
    assert summarize(planted_pack, mean, cov, 10, 0) == summarize(planted_pack, mean, cov, 10, 0)
    capped = summarize(planted_pack, mean, cov, 10, 0, top=1)
    assert [w.descriptor for w in capped.weights] == ["x", "y"]


@pytest.mark.parametrize("mean, cov, match", [
    (np.zeros(3), np.eye(4), r"\(3,\)"),
    (np.zeros(4), np.eye(3), r"\(3, 3\)"),
    (np.full(4, np.nan), np.eye(4), "finite"),
    (np.zeros(4), -np.eye(4), "positive definite"),
])
def test_bad_posteriors_are_value_errors(planted_pack, mean, cov, match):
    with pytest.raises(ValueError, match=match):
        summarize(planted_pack, mean, cov, 1, 0)


def test_counts_and_top_are_checked(planted_pack):
    with pytest.raises(ValueError, match="-1"):
        summarize(planted_pack, planted_pack.prior_mean, planted_pack.prior_cov, -1, 0)
    with pytest.raises(ValueError, match="top"):
        summarize(planted_pack, planted_pack.prior_mean, planted_pack.prior_cov, 1, 0, top=0)
    numpy_counts = summarize(planted_pack, planted_pack.prior_mean, planted_pack.prior_cov, np.int64(1), np.int64(0))
    assert type(numpy_counts.n_answers) is int and numpy_counts.text.endswith("(1 answer).")


def test_confidence_levels():
    levels = [confidence_level(c) for c in (0.0, 0.99, 1.0, 1.99, 2.0, math.inf)]
    assert levels == ["low", "low", "medium", "medium", "high", STATED]


def test_descriptor_weights_are_checked():
    with pytest.raises(ValueError, match="non-zero"):
        DescriptorWeight("x", 0.0, 1.0)
    with pytest.raises(ValueError, match="nan"):
        DescriptorWeight("x", 1.0, float("nan"))
    with pytest.raises(ValueError, match="once"):
        Summary("", (DescriptorWeight("x", 1.0, 1.0), DescriptorWeight("x", -1.0, 1.0)), 0, 0)


# --------------------------------------------------------------------------- structured form


def test_structured_round_trip_through_json(planted_pack):
    summary = apply_correction(summarize(planted_pack, *x_lover(planted_pack), 10, 2), {"horror": -STATED_WEIGHT})
    structured = json.loads(json.dumps(summary.structured(), allow_nan=False))
    assert structured["horror"] == {"weight": -STATED_WEIGHT, "sign": -1, "confidence": STATED, "score": None}
    assert structured["x"]["confidence"] == "high" and structured["x"]["sign"] == 1
    assert structured["_meta"] == {"n_answers": 10, "n_skipped": 2, "confidence": None, "answer_fit": None, "tastes": []}
    assert Summary.from_structured(summary.text, structured) == summary


def test_from_structured_names_what_is_missing():
    with pytest.raises(ValueError, match="_meta"):
        Summary.from_structured("", {"x": {"weight": 1.0, "score": 1.0}})
    with pytest.raises(ValueError, match="'x'"):
        Summary.from_structured("", {"x": {"weight": 1.0}, "_meta": {"n_answers": 1, "n_skipped": 0}})


# --------------------------------------------------------------------------- corrections


@pytest.mark.parametrize("text, expected", [
    ("actually I love musicals", {"musical": STATED_WEIGHT}),
    ("no horror please", {"horror": -STATED_WEIGHT}),
    ("not a fan of slapstick", {"slapstick": -STATED_WEIGHT}),
    ("I don't like horror", {"horror": -STATED_WEIGHT}),
    ("I don't hate musicals", {"musical": STATED_WEIGHT}),
    ("I love musicals, not horror", {"musical": STATED_WEIGHT, "horror": -STATED_WEIGHT}),
    ("more musicals and slapstick please", {"musical": STATED_WEIGHT, "slapstick": STATED_WEIGHT}),
    ("no horror and slapstick please", {"horror": -STATED_WEIGHT, "slapstick": -STATED_WEIGHT}),
    ("I love musicals, no horror and slapstick please", {"musical": STATED_WEIGHT, "horror": -STATED_WEIGHT,
                                                          "slapstick": -STATED_WEIGHT}),
    ("I love musicals, slapstick too", {"musical": STATED_WEIGHT, "slapstick": STATED_WEIGHT}),
])
def test_corrections_in_words(planted_pack, embed, text, expected):
    assert parse_correction(planted_pack, text, embed) == expected


@pytest.mark.parametrize("text", ["xqzvw blorf", "I love xqzvw", "musicals", "", "please"])
def test_no_stated_taste_is_none(planted_pack, embed, text):
    assert parse_correction(planted_pack, text, embed) is None


def test_a_negative_descriptor_takes_the_opposite_sign(planted_pack, embed):
    styles = ["uses emoji", "no emoji", "musical"]
    pack = replace(planted_pack, descriptors=styles, descriptor_embeddings=embed(styles))
    assert parse_correction(pack, "less emoji", embed) == {"uses emoji": -STATED_WEIGHT, "no emoji": STATED_WEIGHT}
    assert parse_correction(pack, "I like emoji", embed) == {"uses emoji": STATED_WEIGHT, "no emoji": -STATED_WEIGHT}


@settings(max_examples=40, deadline=None)
@given(verb=st.sampled_from(["love", "like", "enjoy", "prefer", "want more"]), tag=st.sampled_from(TAGS[2:]))
def test_negating_a_correction_flips_every_sign(planted_pack, embed, verb, tag):
    stated = parse_correction(planted_pack, f"I {verb} {tag}", embed)
    negated = parse_correction(planted_pack, f"I don't {verb} {tag}", embed)
    assert stated == {tag: STATED_WEIGHT}
    assert negated == {d: -w for d, w in stated.items()}


def test_apply_correction_overrides_and_keeps_the_old_version(planted_pack):
    before = summarize(planted_pack, *x_lover(planted_pack), 10, 0)
    after = apply_correction(before, {"x": -STATED_WEIGHT, "musical": STATED_WEIGHT})
    assert before.weights[0] == DescriptorWeight("x", before.weights[0].weight, before.weights[0].confidence)
    assert before.weights[0].weight > 0
    by_name = {w.descriptor: w for w in after.weights}
    assert by_name["x"].weight == -STATED_WEIGHT and by_name["x"].level == STATED
    assert by_name["y"] in before.weights
    assert after.text.startswith("Enjoys: musical.")
    assert after.dislikes[0] == "y" and "x" in after.dislikes  # strongest first: y's generated weight is the larger
    assert after.text.endswith("Stated by you: enjoys musical; not keen on x.")
    with pytest.raises(ValueError, match="none"):
        apply_correction(before, {})


# --------------------------------------------------------------------------- affinity of items


def test_summary_affinity_is_weighted_standardised_association(planted_pack):
    summary = Summary("", (DescriptorWeight("x", 2.0, 3.0), DescriptorWeight("horror", -1.0, 3.0)), 1, 0)
    affinity = summary_affinity(planted_pack, summary)
    tags = np.array([item.tags[0] for item in planted_pack.items])
    z_x, z_horror = (np.where(tags == t, 1.0, 0.0) for t in ("x", "horror"))
    z_x, z_horror = ((z - z.mean()) / z.std() for z in (z_x, z_horror))
    np.testing.assert_allclose(affinity, 2.0 * z_x - z_horror)
    assert affinity[tags == "x"].min() > affinity[tags == "musical"].max() > affinity[tags == "horror"].max()


def test_a_stated_tag_moves_its_items_alike_whatever_its_frequency(planted_pack):
    """On a tags pack a stated like moves every item carrying the tag by the weight times
    (1 - share), the same for a tag on 8 of 40 items as for one on 16 (z alone would move the
    rarer tag's items further); the generated summary keeps the standardised scale."""
    items = list(planted_pack.items)
    items[:8] = [replace(item, tags=("x", "musical")) for item in items[:8]]  # musical: 16 of 40
    pack = replace(planted_pack, items=items)
    for tag, share in (("x", 8 / 40), ("musical", 16 / 40)):
        stated = Summary("", (DescriptorWeight(tag, 0.5, math.inf),), 0, 0)
        carriers = np.array([tag in item.tags for item in pack.items])
        affinity = stated_affinity(pack, stated)
        np.testing.assert_allclose(affinity[carriers], 0.5 * (1 - share))
        np.testing.assert_allclose(affinity[~carriers], -0.5 * share)
        np.testing.assert_allclose(summary_affinity(pack, stated), 0.5 * pack.serving.descriptors.association[:, pack.descriptors.index(tag)])


def test_unknown_descriptors_contribute_nothing(planted_pack):
    known = Summary("", (DescriptorWeight("x", 1.0, 3.0),), 1, 0)
    carried = Summary("", (DescriptorWeight("x", 1.0, 3.0), DescriptorWeight("heist films", 1.0, 3.0)), 1, 0)
    np.testing.assert_array_equal(summary_affinity(planted_pack, carried), summary_affinity(planted_pack, known))


def test_texts_outside_a_vocabulary_pack_score_like_catalog_items(content_pack):
    summary = Summary("", (DescriptorWeight("musical", 1.0, 3.0), DescriptorWeight("y", -0.5, 3.0)), 1, 0)
    np.testing.assert_allclose(summary_affinity(content_pack, summary, content_pack.embeddings[:7]),
                               summary_affinity(content_pack, summary)[:7], atol=1e-12)
    with pytest.raises(ValueError, match="width 3"):
        text_associations(content_pack.serving.descriptors, np.ones((2, 3)))


# --------------------------------------------------------------------------- the real model


@pytest.mark.slow
def test_corrections_with_the_real_embedding_model(planted_pack, embedding_model):
    from prefchat.reward.featurize import embed_texts
    from prefchat.reward.naming import read_vocabulary

    def embed(texts):
        return embed_texts(texts, embedding_model)

    genres = ["musical", "horror", "slapstick", "documentary", "western", "romance", "sci-fi"]
    movies = replace(planted_pack, descriptors=genres, descriptor_embeddings=embed(genres))
    assert parse_correction(movies, "actually I love musicals", embed) == {"musical": STATED_WEIGHT}
    assert parse_correction(movies, "no horror please", embed) == {"horror": -STATED_WEIGHT}
    assert parse_correction(movies, "not a fan of slapstick", embed) == {"slapstick": -STATED_WEIGHT}
    assert parse_correction(movies, "I love blorf xqzvw", embed) is None
    vocabulary, definitions = read_vocabulary("styles")
    styles = replace(planted_pack, descriptors=vocabulary, descriptor_embeddings=embed(vocabulary),
                     manifest={**planted_pack.manifest, "descriptor_definitions": definitions})
    assert parse_correction(styles, "I prefer short answers", embed) == {"short and concise": STATED_WEIGHT}
    assert parse_correction(styles, "less emoji", embed) == {"uses emoji": -STATED_WEIGHT}


def test_the_summary_confidence_comes_from_the_answers_fit_not_their_count(planted_pack):
    """One posterior, ten answers each: the user who always picked the "x" item reads "high", the
    one whose picks went either way does not; three answers never read "high"; the sentence says
    the level the summary records (issue 21)."""
    thresholds = ConfidenceThresholds(4.0, (0.0,) + (0.5,) * 10, (math.inf,) * MIN_HIGH_ANSWERS + (2.0,) * 6)
    pack = replace(planted_pack, manifest={**planted_pack.manifest,
                                           "hyperparameters": {**planted_pack.hyperparameters, "confidence": thresholds.to_dict()}})
    x = pack.serving.descriptors.association[:, pack.descriptors.index("x")]
    high, low = np.argsort(-x)[:10], np.argsort(x)[:10]
    consistent = [Comparison(int(a), int(b), "a") for a, b in zip(high, low)]
    mixed = [Comparison(int(a), int(b), "a" if n % 2 else "b") for n, (a, b) in enumerate(zip(high, low))]
    mean, cov = x_lover(pack)
    for answers, expected in ((consistent, "high"), (mixed, "low"), (consistent[:3], "medium")):
        summary = summarize(pack, mean, cov, len(answers), 0, answers=answers)
        assert summary.answer_fit == pytest.approx(answer_fit(pack.serving.descriptors.association, answers, 4.0))
        assert summary.confidence == expected, summary.answer_fit
        n = len(answers)
        assert summary.text.endswith(wording.CONFIDENCE[expected].format(answers=f"{n} answers"))
        assert Summary.from_structured(summary.text, summary.structured()) == summary


def test_a_summary_names_a_descriptor_as_a_sentence_says_it():
    """"Not keen on: emoji", never "Not keen on: uses emoji"; what was stated reads the same way."""
    generated = apply_correction(Summary("", (DescriptorWeight("uses emoji", -0.2, 1.5),), 10, 0), {"musical": 0.5})
    assert generated.text.startswith("Enjoys: musical. Not keen on: emoji. ")
    stated = apply_correction(Summary("", (), 10, 0), {"uses emoji": -0.5})
    assert stated.text.endswith("Stated by you: not keen on emoji.") and "uses emoji" not in stated.text
