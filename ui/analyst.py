r"""Analyst review of stored preference profiles: a Gradio app of its own, behind a password.

Three tabs:

- **Profiles**: every stored profile, filtered by text (user id or summary), pack, date and
  number of answers; a click on a row opens the profile; a link downloads the profiles shown
  as CSV, JSON or Parquet (:mod:`prefchat.ui.export` documents the schema).
- **Profile**: the summary and its version history, the coefficient on each named axis with
  its 95% interval, the answer history, the recommendations served; delete the user (after a
  confirmation). ``?user=<id>`` in the URL opens a profile directly.
- **Population**: where users sit on the two axes of largest population variance (a pack's
  bases are ordered by it), coloured by archetype: k-means on the profile means, with
  :math:`k \in \{2, \dots, 6\}` chosen by the mean silhouette (:func:`prefchat.ui.clusters.choose_k`).

Access
------
:func:`analyst_app` serves the view on an app of its own (``prefchat analyst`` runs it on its
own port) behind Gradio's login, checked against ``Settings.analyst_user`` and
``Settings.analyst_password``; without both, nothing starts (:class:`AnalystNotConfigured`):
there is no default password. Wrong passwords are logged, slowed down and locked out per
client address (:class:`LoginThrottle`). Cross-origin requests follow ``PREFCHAT_CORS_ORIGINS``
as the chat's do (none by default), and the app takes no uploads (:mod:`prefchat.ui.guards`). The chat app never mounts this view. As a second line, every
callback of :func:`build_analyst` checks that the request is signed in as the analyst, so the
Blocks shows nothing even if mounted without a login, and none of its events is an API
endpoint (``api_visibility="private"``).

Exports
-------
The download link points at :data:`EXPORT_ROUTE` on the analyst's own app, which answers only
a browser signed in as the analyst (Gradio's session cookie; 401 otherwise). The file is built
in memory from the store at each request and sent with ``Cache-Control: no-store``: no export
is ever written to disk, so none lands in Gradio's cache (a folder every Gradio app on the
machine serves), and a deleted user is in no export made after the delete. Gradio's run
history is off, so the browser keeps no copy of what the callbacks returned.
"""

from __future__ import annotations

import hmac
import html
import logging
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import fastapi
import gradio as gr
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from gradio.routes import App as GradioApp
from starlette.routing import Mount

from ..assistant.cards import card_view
from ..assistant.settings import Settings
from ..assistant.summary import measured_confidence, stored_tastes
from ..reward.pack import Pack
from ..storage import ProfileRecord, Store
from .chat import markdown_text, poll_gently
from .clusters import choose_k
from .credentials import AnalystNotConfigured, require_credentials
from .export import FORMATS, MEDIA_TYPES, profile_records, profiles_bytes, signed_axis_names
from .guards import ADDRESSES, CLIENT, guard

__all__ = [
    "EXPORT_ROUTE",
    "AnalystNotConfigured",
    "LoginThrottle",
    "ProfileView",
    "analyst_app",
    "build_analyst",
    "coefficient_chart",
    "export_link",
    "population_view",
    "profile_view",
    "profiles_table",
    "require_credentials",
]

log = logging.getLogger(__name__)

Z95 = 1.959964
"""Half-width of a 95% normal interval, in standard deviations."""
ANY_PACK = "any pack"
TABLE_COLUMNS = {"user_id": "user", "pack_name": "pack", "pack_version": "version", "n_answers": "answers",
                 "updated_at": "updated (UTC)", "summary": "summary"}
"""Export columns shown in the profiles table, and their headers."""
EXPORT_ROUTE = "/export/profiles.{format}"
"""Where the analyst's app serves the profiles a filter shows, as a download (signed-in analyst only)."""
MAX_SEARCH = 500
"""Characters of the search text the download route takes."""


@dataclass
class _Tries:
    """Failed logins in a row from one client address with one user name, and until when they are locked out."""

    failures: int = 0
    locked_until: float = 0.0


class LoginThrottle:
    """Gradio's ``auth`` callable for the analyst: the password checked in constant time, and
    repeated failures slowed down and then locked out, per client address and user name.

    After :attr:`free` failures in a row from one address with one user name, every further
    attempt of theirs waits :attr:`base_delay` seconds, doubled at each failure (at most
    :attr:`max_delay`): while locked, even the right password is refused to them. A success
    resets their count. Another address is not locked out with them, so a flood of wrong
    passwords from elsewhere never keeps the analyst out.

    A global ceiling slows an attacker rotating addresses: once more than :attr:`ceiling`
    failures from all clients together fall within :attr:`window` seconds, a first failure
    already locks its address and user name (:attr:`free` drops to 1). An address that has not
    failed is still checked, so the analyst still signs in. Every failure is logged (a warning
    naming the address, the user name tried and the count), and so is every lockout. The
    :data:`~prefchat.ui.guards.ADDRESSES` most recent address and user name pairs are remembered.
    """

    free = 5
    base_delay = 1.0
    max_delay = 300.0
    ceiling = 50
    window = 600.0
    max_user = 128
    """Characters of a tried user name that are remembered and logged."""

    def __init__(self, user: str, password: str, clock: Callable[[], float] = time.monotonic):
        self.user, self.password, self.clock = user, password, clock
        self.tries: OrderedDict[tuple[str, str], _Tries] = OrderedDict()
        self.recent: deque[float] = deque()  # when the recent failures (of every client) happened
        self._lock = threading.Lock()

    def __call__(self, user: str, password: str) -> bool:
        key = (CLIENT.get(), user[: self.max_user])
        with self._lock:
            now = self.clock()
            tries = self.tries.pop(key, None) or _Tries()
            if now < tries.locked_until:
                log.warning("analyst login refused while locked out (%.0f s left), address %r, user %r",
                            tries.locked_until - now, *key)
                self._remember(key, tries)
                return False
            right = hmac.compare_digest(user.encode(), self.user.encode()) & hmac.compare_digest(
                password.encode(), self.password.encode())
            if right:
                return True
            while self.recent and self.recent[0] <= now - self.window:
                self.recent.popleft()
            self.recent.append(now)
            free = 1 if len(self.recent) > self.ceiling else self.free
            tries.failures += 1
            log.warning("analyst login failed from address %r for user %r (%d in a row)", *key, tries.failures)
            if tries.failures >= free:
                delay = min(self.max_delay, self.base_delay * 2 ** (tries.failures - free))
                tries.locked_until = now + delay
                log.warning("analyst login locked for %.0f s for address %r and user %r after %d failures", delay, *key,
                            tries.failures)
            self._remember(key, tries)
            return False

    def _remember(self, key: tuple[str, str], tries: _Tries) -> None:
        self.tries[key] = tries
        while len(self.tries) > ADDRESSES:
            self.tries.popitem(last=False)


# --------------------------------------------------------------------------- what the tabs show


def _since(value: datetime | None) -> datetime | None:
    """The date picker's value as a timezone-aware datetime (a naive one is taken as UTC)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _filtered(
    store: Store, search: str | None, pack_name: str | None, since: datetime | None, min_answers: float | None
) -> list[ProfileRecord]:
    return store.list_profiles(
        pack_name=None if pack_name in (None, "", ANY_PACK) else pack_name,
        since=_since(since),
        min_answers=None if min_answers is None else int(min_answers),
        search=(search or "").strip() or None,
    )


def profiles_table(
    store: Store,
    search: str | None = None,
    pack_name: str | None = None,
    since: datetime | None = None,
    min_answers: float | None = None,
) -> pd.DataFrame:
    """The profiles table: one row per stored profile matching every filter given, newest first."""
    records = profile_records(store, _filtered(store, search, pack_name, since, min_answers))
    table = pd.DataFrame(records, columns=list(TABLE_COLUMNS))
    table["updated_at"] = table["updated_at"].map(_when)
    return table.rename(columns=TABLE_COLUMNS)


def export_link(
    format: str, search: str | None = None, pack_name: str | None = None, since: datetime | None = None,
    min_answers: float | None = None,
) -> str:
    """HTML of the download link of the profiles the filters show, relative to the analyst's page."""
    after = _since(since)
    query = {
        "search": (search or "").strip(),
        "pack": "" if pack_name in (None, ANY_PACK) else pack_name,
        "since": "" if after is None else after.isoformat(),
        "min_answers": "" if not min_answers else str(int(min_answers)),
    }
    href = EXPORT_ROUTE.format(format=format).lstrip("/") + ("?" + urlencode({k: v for k, v in query.items() if v}) if any(query.values()) else "")
    return f'<a href="{html.escape(href)}" download>Download the profiles shown ({html.escape(format.upper())})</a>'


def _when(iso: str) -> str:
    """An ISO 8601 timestamp to the second, as people read it: "2026-05-01 14:03:59"."""
    return iso[:19].replace("T", " ")


def _chosen(pack: Pack | None, choice: str | None, item_ids: Sequence[str]) -> str:
    """The card an answer chose, as the user saw it (a film's title, an answer's opening), "both" or
    "neither"; "" for feedback. The item's id when ``pack`` does not hold it."""
    if choice in ("tie", "skip"):
        return "both" if choice == "tie" else "neither"
    chosen = {"a": item_ids[0], "b": item_ids[-1] if len(item_ids) == 2 else None}.get(choice or "", choice)
    if not chosen:
        return ""
    try:
        view = card_view(pack.items[pack.index_of(chosen)], grouped=pack.groups is not None) if pack else None
    except KeyError:
        view = None
    if view is None:
        return chosen
    return view.title or (view.preview.head if view.preview else chosen)


def _axis_labels(pack: Pack | None, profile: ProfileRecord) -> list[str]:
    """One distinct label per base: the axis names of the pack the profile was built with, each
    saying which end is positive (a name several axes share gets its base number), else "base k"."""
    if pack is None or pack.name != profile.pack_name or pack.n_bases != len(profile.mean):
        return [f"base {k}" for k in range(len(profile.mean))]
    names = signed_axis_names(pack)
    return [f"{name} (base {k})" if names.count(name) > 1 else name for k, name in enumerate(names)]


def coefficient_chart(names: Sequence[str], mean: np.ndarray, sd: np.ndarray) -> go.Figure:
    r"""The coefficient on each named axis with its 95% interval :math:`m_k \pm 1.96\, \sigma_k`,
    the first axis on top."""
    figure = go.Figure(
        go.Bar(
            x=np.asarray(mean, dtype=float),
            y=list(names),
            orientation="h",
            error_x={"type": "data", "array": Z95 * np.asarray(sd, dtype=float), "visible": True},
            marker_color=["#2f7ebc" if m >= 0 else "#d1603d" for m in mean],
            hovertemplate="%{y}: %{x:.2f}<extra></extra>",
        )
    )
    figure.update_layout(
        xaxis_title="coefficient (posterior mean, 95% interval)",
        yaxis={"autorange": "reversed"},
        height=90 + 32 * len(names),
        margin={"l": 10, "r": 10, "t": 20, "b": 40},
        template="plotly_white",
    )
    return figure


def coefficients_over_time(names: Sequence[str], versions: Sequence[ProfileRecord]) -> go.Figure:
    """The coefficient on each named axis at every saved version of a profile (oldest first): a line per
    axis, so that what a returning user's check-in moved shows (the profile history, never rewritten)."""
    when = [v.updated_at for v in versions]
    means = np.array([v.mean for v in versions], dtype=float).reshape(len(versions), len(names))
    figure = go.Figure([go.Scatter(x=when, y=means[:, k], mode="lines+markers", name=name,
                                   hovertemplate=f"{html.escape(name)}: %{{y:.2f}} (%{{x}})<extra></extra>")
                        for k, name in enumerate(names)])
    figure.update_layout(xaxis_title="profile saved", yaxis_title="coefficient (posterior mean)", height=320,
                         margin={"l": 10, "r": 10, "t": 20, "b": 40}, template="plotly_white")
    return figure


@dataclass(frozen=True)
class ProfileView:
    """What the Profile tab shows for one user; ``history`` the coefficients over time (None without a profile)."""

    header: str
    chart: go.Figure | None
    summaries: pd.DataFrame
    answers: pd.DataFrame
    served: pd.DataFrame
    history: go.Figure | None = None


def profile_view(store: Store, pack: Pack | None, user_id: str) -> ProfileView:
    """The Profile tab for ``user_id`` (the profile of ``pack`` if it has one, else the latest)."""
    exported = store.export_user(user_id)
    profile = (pack is not None and store.get_profile(user_id, pack.name, pack.version)) or store.get_profile(user_id)
    titles = {} if pack is None else {item.item_id: item.title for item in pack.items}
    current = [s for s in exported["summaries"] if s["superseded_at"] is None]
    history = None
    if profile is None:
        header, chart = f"### {markdown_text(user_id)}\n\nNo profile yet: onboarding was not finished.", None
    else:
        counts = ", ".join(f"{kind} {n}" for kind, n in sorted(profile.counts.items()))
        header = (
            f"### {markdown_text(user_id)}\n\n{markdown_text(profile.pack_name)} {markdown_text(profile.pack_version)} · "
            f"profile version {profile.version} · "
            f"{profile.n_answers} answers ({counts or 'none'}) · updated {profile.updated_at:%Y-%m-%d %H:%M} UTC"
        )
        sd = np.sqrt(np.diag(profile.cov))
        chart = coefficient_chart(_axis_labels(pack, profile), profile.mean, sd)
        versions = [v for v in store.profile_history(user_id, profile.pack_name) if v.pack_version == profile.pack_version]
        history = coefficients_over_time(_axis_labels(pack, profile), versions)
    if profile is not None and pack is not None:
        header += _tastes_note(pack, stored_tastes(store, pack, user_id))
    if current:
        header += "\n\n" + "\n\n".join(
            f"**Summary ({markdown_text(s['pack_name'])}, {s['source']}):** {markdown_text(s['text'])}"
            + _confidence_note(s["structured"]) for s in current)
    summaries = pd.DataFrame(
        [
            {"created": _when(s["created_at"]), "pack": f"{s['pack_name']} {s['pack_version']}", "source": s["source"],
             "current": s["superseded_at"] is None, "text": s["text"]}
            for s in reversed(exported["summaries"])
        ],
        columns=["created", "pack", "source", "current", "text"],
    )
    questions = {q["id"]: q for q in exported["questions"]}
    answers = pd.DataFrame(
        [
            {
                "session": questions[a["question_id"]]["session_id"][:8],
                "position": questions[a["question_id"]]["position"],
                "item A": titles.get(items[0], items[0]),
                "item B": titles.get(items[1], items[1]) if len(items) > 1 else "",
                "answer": a["choice"] or a["kind"],
                "chosen": _chosen(pack, a["choice"], items),
                "typed": a["raw_text"],
                "latency ms": a["latency_ms"],
                "answered": _when(a["answered_at"]),
                "undone": a["undone"],
            }
            for a in exported["answers"]
            for items in [questions[a["question_id"]]["item_ids"]]
        ],
        columns=["session", "position", "item A", "item B", "answer", "chosen", "typed", "latency ms", "answered", "undone"],
    )
    served = pd.DataFrame(
        [
            {"served": _when(r["created_at"]), "pack": f"{r['pack_name']} {r['pack_version']}", "n": len(r["item_ids"]),
             "items": ", ".join(titles.get(i, i) for i in r["item_ids"][:5]) + (" …" if len(r["item_ids"]) > 5 else "")}
            for r in reversed(exported["rankings"])
        ],
        columns=["served", "pack", "n", "items"],
    )
    return ProfileView(header, chart, summaries, answers, served, history)


def _tastes_note(pack: Pack, sides: Sequence[tuple[str | None, float, tuple[int, ...]]]) -> str:
    """A user's several tastes (:func:`~prefchat.assistant.summary.stored_tastes`) as the analyst reads them, each
    with its share and up to three of its films; "" for one taste."""
    if len(sides) < 2:
        return ""
    parts = [f"{markdown_text(name or f'taste {n + 1}')} ({share:.0%}: "
             f"{markdown_text(', '.join(pack.items[i].title for i in items[:3]))}{' …' if len(items) > 3 else ''})"
             for n, (name, share, items) in enumerate(sides)]
    return f"\n\n**Tastes:** {'; '.join(parts)}"


def _confidence_note(structured: dict) -> str:
    """The summary's confidence as the analyst reads it: the level and the answer fit behind it."""
    level, fit = measured_confidence(structured)
    if level is None or fit is None:
        return " *(confidence not measured)*"
    return f" *(confidence {level}: answer fit {fit:+.2f} nats against random answers)*"


def _describe(centroid: np.ndarray, centre: np.ndarray, spread: np.ndarray, names: Sequence[str]) -> str:
    """An archetype in words: its three axes furthest from the population, in population SDs."""
    z = np.divide(centroid - centre, spread, out=np.zeros_like(centroid), where=spread > 0)
    top = [k for k in np.argsort(-np.abs(z), kind="stable")[:3] if abs(z[k]) >= 0.25]
    return "; ".join(f"{'higher' if z[k] > 0 else 'lower'} {names[k]} ({z[k]:+.1f} sd)" for k in top) or "near the average"


def population_view(
    profiles: Sequence[ProfileRecord], names: Sequence[str], seed: int = 0
) -> tuple[go.Figure, pd.DataFrame]:
    """Users on the first two axes, coloured by archetype (:func:`choose_k` on the profile means),
    and one row per archetype. ``profiles`` are of one pack version (one set of ``names``)."""
    means = np.array([p.mean for p in profiles], dtype=float).reshape(len(profiles), len(names))
    centroids, labels = choose_k(means, seed) if len(means) else (means, np.zeros(0, int))
    figure = go.Figure()
    for j in range(len(centroids)):
        inside = labels == j
        figure.add_trace(
            go.Scatter(
                x=means[inside, 0],
                y=means[inside, 1],
                mode="markers",
                name=f"archetype {j + 1} ({int(inside.sum())})",
                text=[html.escape(p.user_id) for p, keep in zip(profiles, inside, strict=True) if keep],  # Plotly reads tags
                hovertemplate="%{text}<br>%{x:.2f}, %{y:.2f}<extra></extra>",
            )
        )
    figure.update_layout(
        xaxis_title=names[0], yaxis_title=names[1], template="plotly_white", height=520,
        title=f"{len(means)} profiles, {len(centroids)} archetype{'s' if len(centroids) != 1 else ''}",
    )
    centre, spread = (means.mean(axis=0), means.std(axis=0)) if len(means) else (np.zeros(len(names)), np.zeros(len(names)))
    archetypes = pd.DataFrame(
        [
            {"archetype": j + 1, "users": int((labels == j).sum()), "leans": _describe(c, centre, spread, names)}
            for j, c in enumerate(centroids)
        ],
        columns=["archetype", "users", "leans"],
    )
    return figure, archetypes


def _pack_versions(store: Store) -> list[str]:
    """ "name version" of every pack with stored profiles, most profiles first."""
    counts = Counter(f"{p.pack_name} {p.pack_version}" for p in store.list_profiles())
    return [version for version, _ in counts.most_common()]


# --------------------------------------------------------------------------- the app


def build_analyst(store: Store, pack: Pack | None, settings: Settings) -> gr.Blocks:
    """The analyst review as Gradio Blocks; serve it with :func:`analyst_app` (behind the login).

    Parameters
    ----------
    store : Store
    pack : Pack or None
        Names the axes and items of its own profiles; profiles of other packs show "base k"
        and item ids.
    settings : Settings
        Only a request signed in as ``settings.analyst_user`` sees data.
    """
    analyst, _ = require_credentials(settings)
    own_pack = None if pack is None else f"{pack.name} {pack.version}"

    def check(request: gr.Request | None) -> None:
        if request is None or request.username != analyst:
            raise gr.Error("Sign in as the analyst to see profiles.")

    with gr.Blocks(title="prefchat · analyst review", analytics_enabled=False) as blocks:
        gr.Markdown("# prefchat · analyst review")
        text: dict[str, Any] = {"latex_delimiters": [], "sanitize_html": True}  # every Markdown here shows stored text
        with gr.Tabs() as tabs:
            with gr.Tab("Profiles", id="profiles"):
                with gr.Row():
                    search = gr.Textbox(label="Search", placeholder="user id or summary text", scale=2)
                    pack_name = gr.Dropdown(label="Pack", choices=[ANY_PACK], value=ANY_PACK)
                    since = gr.DateTime(label="Updated since", include_time=False, type="datetime", timezone="UTC")
                    min_answers = gr.Number(label="At least n answers", value=0, precision=0, minimum=0)
                table = gr.Dataframe(
                    label="Profiles (click a row to open it)",
                    interactive=False,
                    wrap=True,
                    column_widths=["16%", "9%", "9%", "8%", "14%", "44%"],
                )
                with gr.Row():
                    export_format = gr.Radio(list(FORMATS), value="csv", label="Export the profiles shown as")
                    export_file = gr.HTML(export_link("csv"))
            with gr.Tab("Profile", id="profile"):
                with gr.Row():
                    user = gr.Textbox(label="User id", scale=3)
                    open_button = gr.Button("Open", scale=1)
                header = gr.Markdown(**text)
                chart = gr.Plot(label="Coefficients")
                over_time = gr.Plot(label="Coefficients over time (every saved profile)")
                summaries = gr.Dataframe(label="Summary versions, newest first", interactive=False, wrap=True)
                answers = gr.Dataframe(label="Answers", interactive=False, wrap=True)
                served = gr.Dataframe(label="Recommendations served, newest first", interactive=False, wrap=True)
                delete_button = gr.Button("Delete this user…", variant="stop")
                with gr.Row(visible=False) as confirm_row:
                    confirm_text = gr.Markdown(**text)
                    confirm_button = gr.Button("Yes, delete everything about this user", variant="stop")
                    cancel_button = gr.Button("Cancel")
            with gr.Tab("Population", id="population"):
                population_pack = gr.Dropdown(label="Pack (name and version)", choices=[])
                population_plot = gr.Plot(label="Users on the first two axes")
                archetypes = gr.Dataframe(
                    label="Archetypes (k-means, k by silhouette)",
                    interactive=False,
                    wrap=True,
                    column_widths=["12%", "10%", "78%"],
                )

        filters: list[gr.Textbox | gr.Dropdown | gr.DateTime | gr.Number | gr.Radio] = [search, pack_name, since, min_answers]
        view = [header, chart, over_time, summaries, answers, served, confirm_row]

        def start(request: gr.Request):
            check(request)
            versions = _pack_versions(store)
            names = sorted({v.rsplit(" ", 1)[0] for v in versions})
            chosen = own_pack if own_pack in versions else (versions[0] if versions else None)
            wanted = request.query_params.get("user")
            try:
                opened = show(wanted, request) if wanted else [gr.skip()] * len(view)
            except gr.Error as error:
                opened = [f"### {markdown_text(wanted)}\n\n{markdown_text(error.message)}", *[gr.skip()] * (len(view) - 1)]
            return (
                gr.Dropdown(choices=[ANY_PACK, *names], value=ANY_PACK),
                profiles_table(store),
                gr.Dropdown(choices=versions, value=chosen),
                wanted or gr.skip(),
                gr.Tabs(selected="profile") if wanted else gr.skip(),
                *opened,
            )

        def refresh(search, pack_name, since, min_answers, request: gr.Request):
            check(request)
            return profiles_table(store, search, pack_name, since, min_answers)

        def show(user_id: str, request: gr.Request):
            check(request)
            user_id = (user_id or "").strip()
            if not user_id:
                raise gr.Error("Type a user id first.")
            try:
                v = profile_view(store, pack, user_id)
            except LookupError as error:
                raise gr.Error(html.escape(str(error))) from None  # toasts render HTML
            return v.header, v.chart, v.history, v.summaries, v.answers, v.served, gr.Row(visible=False)

        def pick(evt: gr.SelectData, request: gr.Request):
            check(request)
            return evt.row_value[0], gr.Tabs(selected="profile")

        def export(format, search, pack_name, since, min_answers, request: gr.Request):
            check(request)
            return export_link(format, search, pack_name, since, min_answers)

        def ask(user_id: str, request: gr.Request):
            check(request)
            user_id = (user_id or "").strip()
            if not user_id:
                raise gr.Error("Open a profile first.")
            return gr.Row(visible=True), f"Delete **{markdown_text(user_id)}** and everything stored about them? This cannot be undone."

        def delete(user_id, search, pack_name, since, min_answers, request: gr.Request):
            check(request)
            user_id = (user_id or "").strip()
            try:
                store.delete_user(user_id)
            except LookupError as error:
                raise gr.Error(html.escape(str(error))) from None
            gr.Info(f"Deleted user {html.escape(user_id)}.")
            empty = pd.DataFrame()
            return ("", f"User {markdown_text(user_id)} was deleted.", None, empty, empty, empty, gr.Row(visible=False),
                    profiles_table(store, search, pack_name, since, min_answers))

        def population(version: str | None, request: gr.Request):
            check(request)
            if not version:
                return None, pd.DataFrame()
            name, release = version.rsplit(" ", 1)
            profiles = store.list_profiles(pack_name=name, pack_version=release)
            names = _axis_labels(pack, profiles[0]) if profiles else ["base 0", "base 1"]
            return population_view(profiles, names)

        private: dict[str, Any] = {"api_visibility": "private"}
        blocks.load(start, None, [pack_name, table, population_pack, user, tabs, *view], **private)
        for component in filters:
            component.change(refresh, filters, table, **private)
        for component in (export_format, *filters):
            component.change(export, [export_format, *filters], export_file, **private)
        search.submit(refresh, filters, table, **private)
        table.select(pick, None, [user, tabs], **private).then(show, user, view, **private)
        open_button.click(show, user, view, **private)
        user.submit(show, user, view, **private)
        delete_button.click(ask, user, [confirm_row, confirm_text], **private)
        cancel_button.click(lambda: gr.Row(visible=False), None, confirm_row, **private)
        confirm_button.click(delete, [user, *filters], [user, *view, table], **private)
        population_pack.change(population, population_pack, [population_plot, archetypes], **private)
    return blocks


def _signed_in(gradio_app: GradioApp, request: fastapi.Request) -> str | None:
    """The user ``request`` is signed in as on ``gradio_app``, by its session cookie (read as Gradio's
    own routes read it), or None."""
    cookies = request.cookies
    token = cookies.get(f"access-token-{gradio_app.cookie_id}") or cookies.get(f"access-token-unsecure-{gradio_app.cookie_id}")
    return gradio_app.tokens.get(token) if token else None


def analyst_app(store: Store, pack: Pack | None, settings: Settings) -> fastapi.FastAPI:
    """The analyst review on an app of its own, behind Gradio's login with the analyst's credentials,
    and the download route of the profiles a filter shows (:data:`EXPORT_ROUTE`), behind the same login."""
    credentials = require_credentials(settings)
    naming = pack  # names the axes of its profiles in the downloads (the route's own "pack" is a filter)
    app = fastapi.FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    guard(app, settings.cors_origins)  # the same CORS policy as the chat's, no uploads, bounded bodies and rates
    gradio_apps: list[GradioApp] = []  # the Gradio app mounted below, which holds the login's sessions

    @app.get(EXPORT_ROUTE, include_in_schema=False)
    def download(
        request: fastapi.Request, format: str, search: Annotated[str, fastapi.Query(max_length=MAX_SEARCH)] = "",
        pack: str = "", since: str = "", min_answers: Annotated[int, fastapi.Query(ge=0)] = 0,
    ) -> fastapi.Response:
        """The profiles the filters show, as a file built in memory from the store (never on disk)."""
        if not gradio_apps or _signed_in(gradio_apps[0], request) != credentials[0]:
            return fastapi.responses.PlainTextResponse("sign in as the analyst first", status_code=401)
        if format not in FORMATS:
            return fastapi.responses.PlainTextResponse(f"no export format {format!r}: one of {', '.join(FORMATS)}", status_code=404)
        try:
            after = datetime.fromisoformat(since) if since else None
        except ValueError:
            return fastapi.responses.PlainTextResponse(f"since={since!r} is not an ISO 8601 date", status_code=422)
        records = profile_records(store, _filtered(store, search, pack or None, after, min_answers), naming)
        name = f"profiles-{datetime.now(UTC):%Y%m%d-%H%M%S}.{format}"
        return fastapi.Response(profiles_bytes(records, format), media_type=MEDIA_TYPES[format], headers={
            "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})

    gr.mount_gradio_app(
        app,
        poll_gently(build_analyst(store, pack, settings)),
        path="/",
        auth=LoginThrottle(*credentials),
        auth_message="prefchat analyst review: sign in with the analyst's user and password.",
        footer_links=[],
        run_history=False,
    )
    gradio_apps.extend(route.app for route in app.routes if isinstance(route, Mount) and isinstance(route.app, GradioApp))
    return app
