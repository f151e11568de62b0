"""Analyst review: archetype maths, the tabs' data, the login (real chromium), and the wall between
the analyst view and the public chat."""

from __future__ import annotations

import argparse
import inspect
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import gradio as gr
import httpx
import numpy as np
import pytest

from prefchat.assistant.api import Assistant
from prefchat.assistant.turns import AnyTurn, QuestionTurn
from prefchat.settings import Settings
from prefchat.storage import NotFound, open_store
from prefchat.ui import analyst_commands
from prefchat.ui.analyst import (
    ANY_PACK,
    AnalystNotConfigured,
    build_analyst,
    coefficient_chart,
    population_view,
    profile_view,
    profiles_table,
    require_credentials,
)
from prefchat.ui.export import read_profiles
from prefchat.ui.schemas import axis_names

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
ANALYST, PASSWORD = "ana", "correct horse battery staple"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


# --------------------------------------------------------------------------- the tabs' data


def test_coefficient_chart_draws_95_percent_intervals():
    figure = coefficient_chart(["x", "y"], np.array([1.0, -0.5]), np.array([0.5, 2.0]))
    (bar,) = figure.data
    assert list(bar.y) == ["x", "y"]
    np.testing.assert_allclose(bar.error_x.array, 1.959964 * np.array([0.5, 2.0]))


NOISE = np.random.default_rng(7).normal(scale=0.5, size=(8, 5))
LOVERS = {f"lover-{n}": np.array([4.0, -4.0, 0.0, 0.0, 0.0]) + NOISE[n] for n in range(4)}
HATERS = {f"hater-{n}": np.array([-4.0, 4.0, 0.0, 0.0, 0.0]) + NOISE[4 + n] for n in range(4)}


def choice(pack, coef, turn) -> str:
    a, b = (pack.features[pack.index_of(card.item_id)] for card in (turn.item_a, turn.item_b))
    return "a" if coef @ (a - b) > 0 else "b"


@pytest.fixture(scope="module")
def db_url(tmp_path_factory, tiny_pack, embed) -> str:
    """Eight finished onboardings in two camps, one started only, one user without a session."""
    url = f"sqlite:///{tmp_path_factory.mktemp('analyst') / 'analyst.sqlite'}"
    with open_store(url) as store:
        conversation = Assistant(tiny_pack, store, embed)
        for user_id, coef in {**LOVERS, **HATERS}.items():
            turn: AnyTurn = conversation.start(user_id)
            while isinstance(turn, QuestionTurn):
                turn = conversation.answer(turn.session_id, choice(tiny_pack, coef, turn))
        conversation.correct("lover-0", "actually I love jokes")
        conversation.recommend("lover-0", k=3)
        conversation.start("newcomer")
        store.create_user("stranger")
    return url


@pytest.fixture
def store(db_url):
    with open_store(db_url) as store:
        yield store


@pytest.fixture(scope="module")
def analyst_settings(tmp_path_factory) -> Settings:
    home = tmp_path_factory.mktemp("home")
    return Settings(home=home, db_url=f"sqlite:///{home / 'x.sqlite'}", embedding_model="unused",
                    analyst_user=ANALYST, analyst_password=PASSWORD)


def test_profiles_table_filters(store, tiny_pack):
    everyone = profiles_table(store)
    assert sorted(everyone["user"]) == sorted([*LOVERS, *HATERS])
    assert list(everyone.columns) == ["user", "pack", "version", "answers", "updated (UTC)", "summary"]
    assert list(profiles_table(store, search="LOVER-")["user"]).count("hater-0") == 0
    assert len(profiles_table(store, search="lover-")) == 4
    assert len(profiles_table(store, search="stated by you: enjoys JOKES")) == 1  # the corrected summary of lover-0
    assert len(profiles_table(store, pack_name=tiny_pack.name)) == 8
    assert profiles_table(store, pack_name="other").empty
    assert profiles_table(store, since=datetime.now(UTC) + timedelta(days=1)).empty
    assert len(profiles_table(store, since=datetime.now() - timedelta(days=1))) == 8  # naive dates are UTC
    assert profiles_table(store, min_answers=11).empty and len(profiles_table(store, min_answers=5)) == 8


def test_profile_view_shows_history_chart_and_served(store, tiny_pack):
    from prefchat.assistant.cards import card_preview
    from prefchat.ui.export import signed_axis_names

    view = profile_view(store, tiny_pack, "lover-0")
    profile = store.get_profile("lover-0")
    assert "lover-0" in view.header and "Stated by you: enjoys jokes" in view.header
    (bar,) = view.chart.data
    names = signed_axis_names(tiny_pack)  # each says which end is positive: "+ ... vs − ..."
    assert len(set(bar.y)) == len(names) and all(label.startswith(name) for label, name in zip(bar.y, names))
    assert all(label.startswith("+ ") for label in bar.y)
    np.testing.assert_allclose(bar.x, profile.mean)
    assert list(view.summaries["source"]) == ["edited", "generated"] and list(view.summaries["current"]) == [True, False]
    assert len(view.answers) == profile.n_answers and set(view.answers["answer"]) <= {"a", "b"}
    titles = {item.title for item in tiny_pack.items}
    assert set(view.answers["item A"]) <= titles and set(view.answers["item B"]) <= titles
    # The card chosen, as the user saw it (an answer's opening), not the two prompt titles again.
    by_title = {item.title: item for item in tiny_pack.items}
    for _, row in view.answers.iterrows():
        chosen = by_title[row["item A"] if row["answer"] == "a" else row["item B"]]
        assert row["chosen"] == card_preview(chosen.text).head
    assert list(view.served["n"]) == [3, 10]  # newest first: recommend(k=3) after the result's ten


def test_the_profile_page_shows_the_coefficients_over_time(tiny_pack):
    """Each saved version of the profile is a point of every axis's line: a check-in's move is seen, the old one kept."""
    from prefchat.storage import open_store

    rng = np.random.default_rng(0)
    means = rng.normal(size=(2, tiny_pack.n_bases))
    with open_store("sqlite://") as store:
        store.ensure_user("returner")
        for mean in means:
            store.save_profile("returner", tiny_pack.name, tiny_pack.version, mean, np.eye(tiny_pack.n_bases), {"a": 3})
        view = profile_view(store, tiny_pack, "returner")
        assert view.history is not None and len(view.history.data) == tiny_pack.n_bases
        for k, line in enumerate(view.history.data):
            assert list(line.y) == pytest.approx(means[:, k].tolist())
        store.ensure_user("newcomer")
        assert profile_view(store, tiny_pack, "newcomer").history is None


def test_the_profile_page_shows_the_confidence_and_the_fit_behind_it(store, tiny_pack):
    """The analyst reads the measure the user's sentence was worded from (issue 21)."""
    assert "(confidence not measured)" in profile_view(store, tiny_pack, "hater-3").header  # tiny_pack has no thresholds
    structured = {"_meta": {"n_answers": 10, "n_skipped": 0, "confidence": "high", "answer_fit": 2.71828}}
    store.add_summary("hater-3", tiny_pack.name, tiny_pack.version, "Enjoys: drama. I'm confident in this: ...", structured)
    assert "(confidence high: answer fit +2.72 nats against random answers)" in profile_view(store, tiny_pack, "hater-3").header


def test_profile_view_without_a_pack_or_a_profile(store):
    bare = profile_view(store, None, "hater-1")
    assert list(bare.chart.data[0].y) == [f"base {k}" for k in range(5)]
    assert set(bare.answers["item A"]) <= {f"p{g}-a{j}" for g in range(12) for j in range(5)}
    newcomer = profile_view(store, None, "newcomer")
    assert newcomer.chart is None and "No profile yet" in newcomer.header
    with pytest.raises(LookupError, match="nobody"):
        profile_view(store, None, "nobody")


def test_population_view_separates_the_two_camps(store, tiny_pack):
    profiles = store.list_profiles(pack_name=tiny_pack.name)
    figure, archetypes = population_view(profiles, axis_names(tiny_pack))
    assert len({(x, y) for trace in figure.data for x, y in zip(trace.x, trace.y)}) > 2  # users differ
    assert len(figure.data) == len(archetypes) == 2 and archetypes["users"].sum() == 8
    camps = [{user for user in trace.text} for trace in figure.data]
    assert sorted(map(sorted, camps)) == [sorted(HATERS), sorted(LOVERS)]
    assert figure.layout.xaxis.title.text == axis_names(tiny_pack)[0]
    assert all("sd)" in leans for leans in archetypes["leans"])


# --------------------------------------------------------------------------- access


def test_no_credentials_no_analyst_view(store, tiny_pack, analyst_settings, capsys):
    for missing in ({"analyst_password": None}, {"analyst_user": None}, {"analyst_password": ""}):
        settings = Settings(**{**analyst_settings.__dict__, **missing})
        with pytest.raises(AnalystNotConfigured, match="PREFCHAT_ANALYST_PASSWORD"):
            require_credentials(settings)
        with pytest.raises(AnalystNotConfigured):
            build_analyst(store, tiny_pack, settings)
        args = analyst_commands.add_arguments(argparse.ArgumentParser()).parse_args(["--port", "0"])
        assert analyst_commands.run(args, settings) == 2
        assert "no default password" in capsys.readouterr().err


def test_every_callback_refuses_a_request_not_signed_in_as_the_analyst(store, tiny_pack, analyst_settings):
    blocks = build_analyst(store, tiny_pack, analyst_settings)
    guarded = [f.fn for f in blocks.fns.values() if f.fn and "request" in inspect.signature(f.fn).parameters]
    assert len(guarded) >= 7
    for fn in guarded:
        arguments = [None] * (len(inspect.signature(fn).parameters) - 1)
        for stranger in (gr.Request(), gr.Request(username="eve")):
            with pytest.raises(gr.Error, match="Sign in as the analyst"):
                fn(*arguments, request=stranger)


def test_the_analyst_sees_the_tables_and_a_linked_profile(store, tiny_pack, analyst_settings):
    blocks = build_analyst(store, tiny_pack, analyst_settings)
    start = next(f.fn for f in blocks.fns.values() if f.fn and f.fn.__name__ == "start")
    packs, table, versions, user, tabs, header, *_ = start(gr.Request(username=ANALYST, query_params={"user": "hater-2"}))
    assert len(table) == 8 and versions.value == f"{tiny_pack.name} {tiny_pack.version}"
    assert user == "hater-2" and "hater-2" in header


def test_export_link_and_delete_through_the_callbacks(tmp_path, tiny_pack, analyst_settings):
    with open_store(f"sqlite:///{tmp_path / 'callbacks.sqlite'}") as store:
        for user_id in ("keep", "remove"):
            store.create_user(user_id)
            store.save_profile(user_id, tiny_pack.name, tiny_pack.version, np.zeros(5), np.eye(5), {"a": 3})
        blocks = build_analyst(store, tiny_pack, analyst_settings)
        callbacks = {f.fn.__name__: f.fn for f in blocks.fns.values() if f.fn}
        me = gr.Request(username=ANALYST)

        link = callbacks["export"]("parquet", "a&b <x>", ANY_PACK, datetime(2026, 5, 1), 3, request=me)
        assert link.startswith('<a href="export/profiles.parquet?search=a%26b+%3Cx%3E&amp;since=2026-05-01T00%3A00%3A00%2B00%3A00'
                               '&amp;min_answers=3" download>')
        assert 'href="export/profiles.csv" ' in callbacks["export"]("csv", "", ANY_PACK, None, 0, request=me)

        row, question = callbacks["ask"]("remove", request=me)
        assert row.visible and "remove" in question
        *_, table = callbacks["delete"]("remove", "", ANY_PACK, None, 0, request=me)
        assert table["user"].tolist() == ["keep"]
        with pytest.raises(NotFound):
            store.get_user("remove")
        with pytest.raises(gr.Error, match="remove"):
            callbacks["delete"]("remove", "", ANY_PACK, None, 0, request=me)


def test_exports_are_streamed_to_the_signed_in_analyst_and_never_cached(tmp_path, tiny_pack, analyst_settings, serve_app,
                                                                          monkeypatch):
    """Finding 3: an export is built in memory by a route of the analyst's app that needs the login;
    nothing lands in Gradio's cache (which every Gradio app on the machine serves), and a deleted
    user is in no later export."""
    from prefchat.ui.analyst import analyst_app

    cache = tmp_path / "gradio-cache"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache))
    marker = "export-marker-7f3a"
    with open_store(f"sqlite:///{tmp_path / 'export.sqlite'}") as store:
        for user_id in (f"{marker}-keep", f"{marker}-remove", "=HYPERLINK(\"http://evil.example\")"):
            store.create_user(user_id)
            store.save_profile(user_id, tiny_pack.name, tiny_pack.version, np.zeros(5), np.eye(5), {"a": 3})
        with serve_app(analyst_app(store, tiny_pack, analyst_settings)) as url, httpx.Client(base_url=url, timeout=30) as client:
            assert client.get("/export/profiles.csv").status_code == 401, "an export without the login"
            assert httpx.get(f"{url}/export/profiles.csv", cookies={"access-token-unsecure-x": "forged"}).status_code == 401
            assert client.post("/login", data={"username": ANALYST, "password": PASSWORD}).status_code == 200

            for format in ("csv", "json", "parquet"):
                response = client.get(f"/export/profiles.{format}")
                assert response.status_code == 200, response.text
                assert response.headers["cache-control"] == "no-store"
                assert response.headers["content-disposition"].startswith("attachment; filename=\"profiles-")
                (tmp_path / f"download.{format}").write_bytes(response.content)
                assert sorted(read_profiles(tmp_path / f"download.{format}")["user_id"]) == sorted(
                    [f"{marker}-keep", f"{marker}-remove", "=HYPERLINK(\"http://evil.example\")"])
            assert '"\'=HYPERLINK' in client.get("/export/profiles.csv").text, "CSV cells are neutralised"
            filtered = client.get("/export/profiles.json", params={"search": "keep", "min_answers": 1}).json()
            assert [record["user_id"] for record in filtered] == [f"{marker}-keep"]
            assert client.get("/export/profiles.xlsx").status_code == 404
            assert client.get("/export/profiles.csv", params={"since": "yesterday"}).status_code == 422

            store.delete_user(f"{marker}-remove")
            for format in ("csv", "json"):
                assert f"{marker}-remove" not in client.get(f"/export/profiles.{format}").text
            client.get("/logout")
            assert client.get("/export/profiles.csv").status_code == 401, "an export after signing out"
    cached = [path for path in cache.rglob("*") if path.is_file()] if cache.exists() else []
    assert not [path for path in cached if marker.encode() in path.read_bytes()], "an export is in Gradio's cache"


def test_the_chat_app_exposes_nothing_of_the_analyst(server_url):
    """The public app (chat + REST) carries no analyst view, data or endpoint, with or without credentials."""
    with httpx.Client(base_url=server_url, timeout=30) as client:
        config = client.get("/config").text
        info = client.get("/gradio_api/info").json()
        for marker in ("analyst", "Delete this user", "Archetypes", "Export the profiles"):
            assert marker not in config
        assert not any("analyst" in name or "profiles" in name or "export" in name for name in info["named_endpoints"])
        for path in ("/analyst", "/analyst/", "/analyst/config", "/api/v1/profiles", "/api/v1/users"):
            response = client.get(path, auth=(ANALYST, PASSWORD))
            assert response.status_code in (404, 405) or "analyst review" not in response.text, path
        assert client.post("/login", data={"username": ANALYST, "password": PASSWORD}).status_code in (302, 307, 404, 405)


# --------------------------------------------------------------------------- real chromium


@pytest.fixture(scope="module")
def analyst_url(db_url, tiny_pack_dir, tmp_path_factory):
    """``prefchat analyst`` (the argparse glue) in a subprocess on a free loopback port."""
    env = {**os.environ, "PREFCHAT_HOME": str(tmp_path_factory.mktemp("home")), "PREFCHAT_ANALYST_USER": ANALYST,
           "PREFCHAT_ANALYST_PASSWORD": PASSWORD, "GRADIO_ANALYTICS_ENABLED": "False"}
    code = ("import argparse, sys\nfrom prefchat.settings import Settings\nfrom prefchat.ui import analyst_commands as c\n"
            "args = c.add_arguments(argparse.ArgumentParser()).parse_args(sys.argv[1:])\n"
            "sys.exit(c.run(args, Settings.from_env()))")
    command = [sys.executable, "-c", code, "--db", db_url, "--pack", str(tiny_pack_dir), "--port", "0"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert "analyst review on http://" in line, process.stderr.read() if process.poll() is not None else line
        yield line.split(" on ", 1)[1].split("/ ", 1)[0]
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.browser
def test_login_rejects_a_wrong_password_and_shows_the_profile_after_the_right_one(analyst_url, chromium):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{analyst_url}/?user=lover-0")

            def sign_in(password):
                page.get_by_label("username").fill(ANALYST)
                page.get_by_label("password").fill(password)
                page.get_by_role("button", name="Login").click()

            sign_in("wrong password")
            expect(page.get_by_text("Incorrect Credentials")).to_be_visible(timeout=15_000)
            expect(page.get_by_text("lover-0")).to_have_count(0)
            page.screenshot(path=ARTIFACTS / "analyst-login-refused.png")

            sign_in(PASSWORD)
            expect(page.get_by_role("heading", name="lover-0")).to_be_visible(timeout=30_000)
            expect(page.locator("p").filter(has_text="Stated by you: enjoys jokes").first).to_be_visible()
            expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=15_000)
            page.screenshot(path=ARTIFACTS / "analyst.png")

            page.get_by_role("tab", name="Profiles").click()
            with page.expect_download() as download:
                page.get_by_text("Download the profiles shown (CSV)").click()
            assert sorted(read_profiles(download.value.path(), "csv")["user_id"]) == sorted([*LOVERS, *HATERS])

            page.get_by_role("tab", name="Population").click()
            expect(page.get_by_text("8 profiles, 2 archetypes")).to_be_visible(timeout=15_000)
            page.screenshot(path=ARTIFACTS / "analyst-population.png", full_page=True)
        finally:
            browser.close()


# --------------------------------------------------------------------------- finding 8: login throttling


def test_the_login_locks_out_after_failures_with_a_growing_backoff(caplog):
    from prefchat.ui.analyst import LoginThrottle

    now = [0.0]
    throttle = LoginThrottle(ANALYST, PASSWORD, clock=lambda: now[0])
    with caplog.at_level("WARNING", logger="prefchat.ui.analyst"):
        assert not any(throttle(ANALYST, f"guess {n}") for n in range(300))
        assert not throttle(ANALYST, PASSWORD), "the right password worked at once after 300 wrong ones"
    assert "analyst login failed from address '' for user 'ana'" in caplog.text and "locked for" in caplog.text
    # Only the first five count before the lock: the others were refused unchecked while locked.
    (tries,) = throttle.tries.values()
    assert tries.failures == 5 and tries.locked_until == 1.0
    now[0] = 1.5
    assert not throttle(ANALYST, "guess again")
    assert tries.locked_until == 1.5 + 2.0, "the lockout doubles at each failure"
    now[0] = 10.0
    assert throttle(ANALYST, PASSWORD) and not throttle.tries
    assert throttle(ANALYST, PASSWORD) and not throttle("eve", PASSWORD)


def signed_in_from(throttle, address: str, user: str, password: str) -> bool:
    from prefchat.ui.guards import CLIENT

    token = CLIENT.set(address)
    try:
        return throttle(user, password)
    finally:
        CLIENT.reset(token)


def test_a_flood_from_elsewhere_never_locks_the_analyst_out():
    """Finding 4 of issue 24: one wrong password every 5 minutes from another address kept the analyst out for good."""
    from prefchat.ui.analyst import LoginThrottle

    now = [0.0]
    throttle = LoginThrottle(ANALYST, PASSWORD, clock=lambda: now[0])
    for n in range(300):
        now[0] = 300.0 * n
        assert not signed_in_from(throttle, "203.0.113.9", ANALYST, f"guess {n}")
    assert signed_in_from(throttle, "198.51.100.7", ANALYST, PASSWORD)
    assert not signed_in_from(throttle, "203.0.113.9", ANALYST, PASSWORD), "the attacker's address stays locked"


def test_past_the_global_ceiling_one_failure_locks_an_address_but_the_analyst_still_signs_in():
    from prefchat.ui.analyst import LoginThrottle

    now = [0.0]
    throttle = LoginThrottle(ANALYST, PASSWORD, clock=lambda: now[0])
    for n in range(throttle.ceiling + 1):  # an attacker rotating addresses, one guess each
        assert not signed_in_from(throttle, f"10.0.{n // 256}.{n % 256}", ANALYST, f"guess {n}")
    assert not signed_in_from(throttle, "10.9.9.9", ANALYST, "one more guess")
    assert throttle.tries[("10.9.9.9", ANALYST)].locked_until == 1.0, "the first failure locked it"
    assert not signed_in_from(throttle, "10.9.9.9", ANALYST, PASSWORD), "locked: even the right password waits"
    assert signed_in_from(throttle, "192.0.2.1", ANALYST, PASSWORD), "an address that never failed is checked"
    now[0] = throttle.window + 1  # the crowd is gone: five free tries again
    assert not any(signed_in_from(throttle, "10.8.8.8", ANALYST, f"typo {n}") for n in range(4))
    assert ("10.8.8.8", ANALYST) in throttle.tries and throttle.tries[("10.8.8.8", ANALYST)].locked_until == 0.0


def test_the_analyst_app_uses_the_throttled_login_per_client_address(store, tiny_pack, analyst_settings, serve_app):
    from prefchat.ui.analyst import analyst_app

    with serve_app(analyst_app(store, tiny_pack, analyst_settings)) as url, httpx.Client(base_url=url, timeout=30) as client:
        attacker = {"X-Forwarded-For": "203.0.113.9"}  # uvicorn takes it from a proxy on loopback, as this client is
        codes = [client.post("/login", data={"username": ANALYST, "password": f"wrong {n}"}, headers=attacker).status_code
                 for n in range(6)]
        assert set(codes) == {400}
        locked = client.post("/login", data={"username": ANALYST, "password": PASSWORD}, headers=attacker)
        assert locked.status_code == 400, "not locked out"
        assert client.post("/login", data={"username": ANALYST, "password": PASSWORD}).status_code == 200


# --------------------------------------------------------------------------- finding 4: stored text shown as text


@pytest.mark.parametrize("user_id", ["https://evil.example/login", "<img src=http://127.0.0.1:9/x>", "bob<!-- hidden -->",
                                     "[Session expired: click here](https://evil.example)", "$x$"])
def test_hostile_user_ids_and_summaries_are_escaped_on_the_profile_page(tmp_path, tiny_pack, user_id):
    import re

    from prefchat.ui.analyst import population_view

    with open_store(f"sqlite:///{tmp_path / 'hostile.sqlite'}") as store:
        store.create_user(user_id)
        profile = store.save_profile(user_id, tiny_pack.name, tiny_pack.version, np.zeros(5), np.eye(5), {"a": 1})
        store.add_summary(user_id, tiny_pack.name, tiny_pack.version, f"Enjoys: {user_id}", {})
        header = profile_view(store, tiny_pack, user_id).header
    unescaped = re.sub(r"\\.", "", header)  # what Markdown reads as syntax
    for active in ("](", "<", "$", "://"):
        assert active not in unescaped, (active, header)
    assert re.sub(r"\\(.)", r"\1", header).count(user_id) == 2, "the id and the summary show as written"
    figure, _ = population_view([profile], axis_names(tiny_pack))
    assert "<" not in "".join(figure.data[0].text), "Plotly renders tags in hover text"
