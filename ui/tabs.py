"""Which browser a Gradio tab's ``session_hash`` belongs to, so that knowing the hash is not enough to act as the tab.

Gradio names a tab's server-side state (the chat's transcript and open question) by a random
``session_hash`` the page makes, and the page sends it in query strings
(``/gradio_api/queue/data?session_hash=...``, ``/gradio_api/deep_link?session_hash=...``), in a
path (``/gradio_api/heartbeat/<hash>``) and in request bodies. Gradio 6 cannot be told to send
it otherwise, so it can land in a proxy's access log. So each browser also gets an ``HttpOnly``
cookie, :data:`TAB_COOKIE`, which travels in no URL; the first request naming a hash binds the
hash to that cookie (or to "no cookie", for a client that keeps none), and a later request
naming the hash with another cookie is refused (:class:`TabOwners`).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections import OrderedDict
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from starlette.types import Message, Scope, Send

__all__ = ["MAX_TABS", "TAB_COOKIE", "TabOwners", "session_hashes", "tab_cookie", "with_tab_cookie"]

TAB_COOKIE = "prefchat-tab"
MAX_TABS = 100_000
"""Session hashes whose owner is remembered (the least recently used are forgotten first)."""
_HASH_IN_PATH = re.compile(r"/gradio_api/(?:heartbeat|stream)/([^/]+)")


class TabOwners:
    """``session_hash -> owner`` (the browser's :data:`TAB_COOKIE`, or "" without one): the first to name a hash owns it."""

    def __init__(self) -> None:
        self._owners: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, session_hash: str, owner: str) -> bool:
        """Whether ``owner`` may act as tab ``session_hash``: it named the hash first, or is the one that did."""
        with self._lock:
            first = self._owners.setdefault(session_hash, owner)
            self._owners.move_to_end(session_hash)
            while len(self._owners) > MAX_TABS:
                self._owners.popitem(last=False)
            return secrets.compare_digest(first, owner)


def session_hashes(scope: Scope, body: bytes) -> set[str]:
    """The Gradio session hashes a request names: in its query string, its path, and its JSON body."""
    found = set(parse_qs(scope.get("query_string", b"").decode("latin-1")).get("session_hash", []))
    found.update(_HASH_IN_PATH.findall(scope["path"]))
    if body[:1] == b"{":
        try:
            named = json.loads(body).get("session_hash")
        except (ValueError, AttributeError):
            named = None
        if isinstance(named, str):
            found.add(named)
    return found


def tab_cookie(scope: Scope) -> str:
    """The request's :data:`TAB_COOKIE`, or ""."""
    header = dict(scope["headers"]).get(b"cookie", b"").decode("latin-1")
    try:
        morsel = SimpleCookie(header).get(TAB_COOKIE)
    except ValueError:  # a malformed cookie header names no tab
        return ""
    return morsel.value if morsel is not None else ""


def with_tab_cookie(send: Send, scope: Scope) -> Send:
    """``send``, adding a new :data:`TAB_COOKIE` to the response (``Secure`` over HTTPS)."""
    value = secrets.token_urlsafe(24)
    secure = "; Secure" if scope.get("scheme") == "https" else ""
    cookie = f"{TAB_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax{secure}".encode("latin-1")

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie)]}
        await send(message)

    return sending
