"""The embedded "assistant styles" domain: loading, validation, split, training CSVs."""

import csv
import dataclasses
import json
import re
import shutil

import numpy as np
import pytest

from prefchat.default.domain import (
    DIMENSIONS,
    HELDOUT_EVERY,
    MIN_RESPONSES,
    PROMPTS_DIR,
    PromptFileError,
    load_domain,
    response_title,
)
from prefchat.default.population import ITEMS_COLUMNS, PAIRS_COLUMNS, simulate_population, write_training_csvs

PROMPT_FILES = sorted(PROMPTS_DIR.glob("*.json"))
pytestmark = pytest.mark.skipif(not PROMPT_FILES, reason="no prompt files written yet")
needs_heldout = pytest.mark.skipif(
    len(PROMPT_FILES) < HELDOUT_EVERY, reason=f"a held-out prompt needs {HELDOUT_EVERY} prompt files"
)


@pytest.fixture(scope="module")
def domain():
    return load_domain()


@pytest.fixture(scope="module")
def population(domain):
    return simulate_population(domain, n_users=60, pairs_per_user=10, seed=3)


def test_embedded_domain_is_consistent(domain):
    assert domain.n_prompts == len(PROMPT_FILES)
    assert domain.attributes.shape == (domain.n_responses, len(DIMENSIONS)) == (len(domain.texts), 9)
    assert ((domain.attributes >= 0) & (domain.attributes <= 1)).all()
    assert len(set(domain.response_ids)) == domain.n_responses
    assert [p.prompt_id for p in domain.prompts] == sorted(p.prompt_id for p in domain.prompts)
    assert np.all(np.diff(domain.group) >= 0), "responses are stored contiguously by prompt"
    assert np.bincount(domain.group).min() >= MIN_RESPONSES
    assert domain.index_of(domain.response_ids[-1]) == domain.n_responses - 1


def test_split_holds_out_every_sixth_prompt(domain):
    heldout = domain.heldout_prompts
    assert heldout.tolist() == list(range(HELDOUT_EVERY - 1, domain.n_prompts, HELDOUT_EVERY))
    assert np.union1d(heldout, domain.training_prompts).tolist() == list(range(domain.n_prompts))
    if domain.n_prompts >= 30:
        assert len(heldout) >= 5


def test_split_is_by_sorted_id_not_file_name(tmp_path, domain):
    for k, path in enumerate(PROMPT_FILES):
        shutil.copy(path, tmp_path / f"{len(PROMPT_FILES) - k:03d}.json")
    reversed_files = load_domain(tmp_path)
    assert [p.prompt_id for p in reversed_files.prompts] == [p.prompt_id for p in domain.prompts]
    assert reversed_files.heldout_prompts.tolist() == domain.heldout_prompts.tolist()


def _break(tmp_path, edit):
    """Copy the prompt files to ``tmp_path`` and apply ``edit`` to the first one's JSON."""
    for path in PROMPT_FILES:
        shutil.copy(path, tmp_path / path.name)
    target = tmp_path / PROMPT_FILES[0].name
    record = json.loads(target.read_text(encoding="utf-8"))
    edit(record)
    target.write_text(json.dumps(record), encoding="utf-8")
    return target.name


def _set_attribute(dim, value):
    def edit(record):
        record["responses"][2]["attributes"][dim] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda r: r.pop("topic"), "topic"),
        (lambda r: r.update(prompt=""), "prompt"),
        (lambda r: r["responses"][1].pop("text"), "responses[1].text"),
        (lambda r: r.update(responses=r["responses"][: MIN_RESPONSES - 1]), "responses"),
        (_set_attribute("warmth", 1.5), "responses[2].attributes.warmth"),
        (_set_attribute("emoji", -0.1), "responses[2].attributes.emoji"),
        (_set_attribute("hedging", "high"), "responses[2].attributes.hedging"),
        (_set_attribute("humor", 0.5), "responses[2].attributes.humor"),
        (lambda r: r["responses"][2]["attributes"].pop("length"), "responses[2].attributes.length"),
        (lambda r: r["responses"][3].update(response_id=r["responses"][0]["response_id"]), "responses[3].response_id"),
    ],
)
def test_validation_error_names_file_and_field(tmp_path, edit, field):
    name = _break(tmp_path, edit)
    with pytest.raises(PromptFileError) as raised:
        load_domain(tmp_path)
    assert raised.value.source == name and raised.value.field == field
    assert name in str(raised.value) and field in str(raised.value)


def test_duplicate_prompt_id_across_files_names_both(tmp_path):
    _break(tmp_path, lambda r: None)
    copy = json.loads(PROMPT_FILES[0].read_text(encoding="utf-8"))
    for k, response in enumerate(copy["responses"]):
        response["response_id"] = f"copy-{k}"
    (tmp_path / "99-copy.json").write_text(json.dumps(copy), encoding="utf-8")
    with pytest.raises(PromptFileError, match="prompt_id") as raised:
        load_domain(tmp_path)
    assert "99-copy.json" in str(raised.value) and PROMPT_FILES[0].name in str(raised.value)


def test_invalid_json_and_empty_directory(tmp_path):
    with pytest.raises(PromptFileError, match="no \\*.json prompt files"):
        load_domain(tmp_path)
    (tmp_path / "01-bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(PromptFileError, match="01-bad.json"):
        load_domain(tmp_path)


def test_title_shortens_the_prompt_and_tells_the_answers_apart_by_their_openings(domain):
    title = response_title("word " * 40, "Rinse the rice, then simmer it for fifteen minutes.")
    prompt, opening = title.split(" — ")
    assert prompt.endswith("…") and len(prompt) <= 60 and opening == "Rinse the rice, then simmer it…"
    assert response_title("Short?", "Yes, do.") == "Short? — Yes, do."
    for p, prompt in enumerate(domain.prompts):
        titles = [response_title(prompt.text, domain.texts[r]) for r in domain.responses_of(p)]
        assert len(set(titles)) == len(titles), titles
        assert not any(re.search(r"\(answer \d+\)$", t) for t in titles)


def _read(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def test_items_csv_has_texts_of_training_prompts_and_no_annotations(domain, population, tmp_path):
    items_path, _ = write_training_csvs(domain, tmp_path, population)
    header, *rows = _read(items_path)
    assert tuple(header) == ITEMS_COLUMNS
    assert not set(header) & set(DIMENSIONS)
    training = domain.training_prompts
    expected_ids = [domain.response_ids[r] for p in training for r in domain.responses_of(p)]
    assert [row[0] for row in rows] == expected_ids
    for item_id, text, title, tags, group in rows:
        r = domain.index_of(item_id)
        prompt = domain.prompts[domain.group[r]]
        assert text == domain.texts[r], "the text is written verbatim, nothing appended"
        assert tags == "" and group == prompt.text and not prompt.heldout
        assert title == response_title(prompt.text, text)


def test_pairs_csv_drops_dont_know_and_names_users(domain, population, tmp_path):
    _, pairs_path = write_training_csvs(domain, tmp_path, population)
    header, *rows = _read(pairs_path)
    assert tuple(header) == PAIRS_COLUMNS
    answered = population.choice != "skip"
    assert len(rows) == answered.sum()
    assert [row[3] for row in rows] == population.choice[answered].tolist()
    assert {row[3] for row in rows} <= {"a", "b", "tie"}
    assert {row[0] for row in rows} <= set(population.user_ids)
    assert [row[1] for row in rows] == [domain.response_ids[a] for a in population.item_a[answered]]


@needs_heldout
def test_pairs_on_heldout_prompts_are_refused(domain, population, tmp_path):
    heldout_response = domain.responses_of(domain.heldout_prompts[0])[0]
    item_b = population.item_b.copy()
    item_b[4] = heldout_response
    with pytest.raises(ValueError, match=domain.response_ids[heldout_response]):
        write_training_csvs(domain, tmp_path, dataclasses.replace(population, item_b=item_b))
    assert not (tmp_path / "items.csv").exists()
