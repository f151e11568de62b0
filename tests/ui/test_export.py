"""Profiles export: CSV, JSON and Parquet read back with pandas equal the records written."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prefchat.storage import ProfileRecord, open_store
from prefchat.ui.export import DTYPES, FORMATS, profile_record, profile_records, read_profiles, write_profiles

UPDATED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
AWKWARD_IDS = ["007", "a,b", 'say "hi"', "ünïcødé ✓", "line\\nnot-a-break", "NaN", "null", "1e5"]


@pytest.fixture
def store(tmp_path):
    with open_store(f"sqlite:///{tmp_path / 'export.sqlite'}") as store:
        for n, user_id in enumerate(AWKWARD_IDS):
            store.create_user(user_id)
            cov = np.diag([0.25, 1.0, 4.0])
            counts = {"a": n, "b": 2, "tie": 1, "skip": n % 3, "thumbs_up": 1, "less_like": n % 2}
            store.save_profile(user_id, "tiny", "1", [0.1 * n, -1 / 3, 2.0], cov, counts)
            if n % 2:
                store.add_summary(user_id, "tiny", "1", f'Enjoys: "dark", comedy.\nNot keen on: {user_id}.', {})
        yield store


def test_records_follow_the_schema(store):
    records = profile_records(store, store.list_profiles())
    assert len(records) == len(AWKWARD_IDS)
    by_user = {r["user_id"]: r for r in records}
    third = by_user[AWKWARD_IDS[3]]
    assert list(third) == list(DTYPES)
    assert (third["n_a"], third["n_b"], third["n_tie"], third["n_skip"], third["n_feedback"]) == (3, 2, 1, 0, 2)
    assert third["n_answers"] == 3 + 2 + 1 + 0 + 2
    assert json.loads(third["mean"]) == [0.1 * 3, -1 / 3, 2.0]  # floats survive JSON text exactly
    assert json.loads(third["sd"]) == [0.5, 1.0, 2.0]
    assert third["summary"].startswith('Enjoys: "dark"') and third["summary_source"] == "generated"
    assert by_user["007"]["summary"] == "" and by_user["007"]["summary_source"] == ""


@pytest.mark.parametrize("format", FORMATS)
def test_round_trip_equals_the_records(store, tmp_path, format):
    records = profile_records(store, store.list_profiles())
    path = write_profiles(records, tmp_path / f"profiles.{format}")
    back = read_profiles(path)
    assert list(back.columns) == list(DTYPES)
    assert back.to_dict("records") == records


@pytest.mark.parametrize("format", FORMATS)
def test_an_empty_export_still_has_the_columns(tmp_path, format):
    back = read_profiles(write_profiles([], tmp_path / f"empty.{format}"))
    assert back.shape == (0, len(DTYPES)) and list(back.columns) == list(DTYPES)


def test_plain_pandas_reads_as_documented(store, tmp_path):
    records = profile_records(store, store.list_profiles())
    csv = pd.read_csv(write_profiles(records, tmp_path / "p.csv"), dtype=DTYPES, keep_default_na=False)
    js = pd.read_json(write_profiles(records, tmp_path / "p.json"), orient="records", dtype=False)
    parquet = pd.read_parquet(write_profiles(records, tmp_path / "p.parquet"))
    for frame in (csv, js, parquet):
        assert frame.to_dict("records") == records


def test_format_comes_from_the_suffix_or_is_refused(tmp_path):
    assert write_profiles([], tmp_path / "x.data", format="json").read_text() == "[]"
    with pytest.raises(ValueError, match="'xlsx'"):
        write_profiles([], tmp_path / "x.xlsx")


text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(user_id=text.filter(lambda s: s.isprintable() and s), summary=text, version=st.integers(1, 10**6),
       mean=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=4))
def test_any_text_and_numbers_round_trip(tmp_path, user_id, summary, version, mean):
    profile = ProfileRecord(user_id, "p", "1", version, np.array(mean), np.eye(len(mean)), {"a": 1}, 1, UPDATED)
    records = [profile_record(profile, summary, "edited")]
    for format in FORMATS:
        assert read_profiles(write_profiles(records, tmp_path / f"h.{format}")).to_dict("records") == records, format


@pytest.mark.parametrize("cell", ["=HYPERLINK(\"https://evil.example\",\"x\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
                                  "\tx", "\rx", "'=already quoted"])
def test_csv_cells_are_neutralised_against_formulas_and_read_back_exactly(tmp_path, cell):
    profile = ProfileRecord(cell, "p", "1", 1, np.zeros(2), np.eye(2), {"a": 1}, 1, UPDATED)
    records = [profile_record(profile, cell, "edited")]
    path = write_profiles(records, tmp_path / "f.csv")
    raw = pd.read_csv(path, dtype=DTYPES, keep_default_na=False)
    assert raw.loc[0, "user_id"] == "'" + cell and raw.loc[0, "summary"] == "'" + cell  # a spreadsheet shows text
    assert read_profiles(path).to_dict("records") == records


def test_the_profiles_of_the_pack_given_carry_their_axis_names_positive_end_first(store, tiny_pack):
    from prefchat.ui.export import signed_axis_names

    names = signed_axis_names(tiny_pack)
    assert len(names) == tiny_pack.n_bases and all(name.startswith("+ ") for name in names)
    assert " vs − " in names[0]
    store.create_user("ana")
    store.save_profile("ana", tiny_pack.name, tiny_pack.version, np.zeros(tiny_pack.n_bases), np.eye(tiny_pack.n_bases), {"a": 1})
    store.save_profile("ana", "other-pack", "1", np.zeros(2), np.eye(2), {"a": 1})
    records = {r["pack_name"]: r for r in profile_records(store, store.list_profiles(), tiny_pack)}
    assert json.loads(records[tiny_pack.name]["axes"]) == names and json.loads(records["other-pack"]["axes"]) == []
    assert list(records[tiny_pack.name]) == list(DTYPES)


def test_the_export_carries_the_summary_confidence_and_the_fit_behind_it(store):
    """The analyst reads the measure the user's summary was worded from (issue 21); "" where none was."""
    user = AWKWARD_IDS[0]
    store.add_summary(user, "tiny", "1", "Enjoys: x. I'm confident in this: ...",
                      {"_meta": {"n_answers": 10, "n_skipped": 0, "confidence": "high", "answer_fit": 2.71828}})
    by_user = {r["user_id"]: r for r in profile_records(store, store.list_profiles())}
    assert (by_user[user]["confidence"], json.loads(by_user[user]["answer_fit"])) == ("high", 2.7183)
    assert (by_user[AWKWARD_IDS[1]]["confidence"], by_user[AWKWARD_IDS[1]]["answer_fit"]) == ("", "")
