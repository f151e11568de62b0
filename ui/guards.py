"""What both prefchat web apps (the chat with its REST API, and the analyst review) put in front of their routes.

- **CORS**: only the origins of ``PREFCHAT_CORS_ORIGINS`` get CORS headers, whatever name the
  server is reached under; none by default. A ``CORSMiddleware`` on the parent app also makes
  Gradio's own policy (which reflects any origin, ``null`` included, on a public host name)
  stand aside.
- **No uploads, no deep links**: neither app takes a file, so Gradio's upload route answers 403
  to everyone before reading a byte (nothing reaches Gradio's temporary folder, and no server
  path is shown); nor makes deep links (:data:`REFUSED_ROUTES`).
- **Bounded bodies**: a request body over :data:`MAX_BODY` bytes is answered 413, by its
  ``Content-Length`` or once that many bytes have streamed (a body is read whole, within the
  server's body timeout, before the route sees it); routes under a ``bounded_elsewhere`` prefix (the REST API,
  which answers in its own error format) are left to themselves.
- **Bounded rate**: each client address may send :data:`BURST` POSTs at once, and
  :data:`RATE` a second after that (a token bucket per address, the :data:`ADDRESSES` most recent
  kept); more are answered 429 with ``Retry-After``. A person clicking and typing never comes
  near it; a script flooding the chat's queue does.
- **Tabs kept to their browser**: a Gradio ``session_hash`` is honoured only from the browser
  that named it first (:mod:`prefchat.ui.tabs`), so a hash read from a URL in a log is not enough.

Header and body read timeouts are the server's (:mod:`prefchat.ui.server`).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .tabs import TabOwners, session_hashes, tab_cookie, with_tab_cookie

__all__ = ["ADDRESSES", "BURST", "CLIENT", "MAX_BODY", "RATE", "CorsHint", "RateLimit", "guard"]

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
"""Largest body, in bytes, of a request to the chat or the analyst app (a typed message is at most 2,000 characters)."""
BURST = 120
"""POSTs a client address may send at once."""
RATE = 20.0
"""POSTs a second a client address may send after its burst."""
ADDRESSES = 10_000
"""Client addresses whose rate is remembered (the least recent are forgotten first)."""
REFUSED_ROUTES = {"/gradio_api/upload": "this app takes no files",
                  "/gradio_api/deep_link": "this app makes no deep links"}
"""Gradio routes neither app uses, answered 403: uploads, and deep links (which copy a tab's state, its
transcript, into a file on the server, out of reach of "forget me")."""
CLIENT: ContextVar[str] = ContextVar("prefchat_client", default="")
"""The address of the client whose request is being served (as uvicorn reports it: behind a proxy
it trusts, the address the proxy forwarded), for code that Gradio calls without the request (the login)."""


def guard(app: FastAPI, cors_origins: Sequence[str], bounded_elsewhere: Sequence[str] = ()) -> None:
    """Add the CORS policy of ``cors_origins``, no uploads, and bounded bodies and rates to ``app`` (see the module)."""
    app.add_middleware(_Guard, bounded_elsewhere=tuple(bounded_elsewhere), limit=RateLimit(BURST, RATE))
    app.add_middleware(
        CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST", "DELETE"],
        # x-gradio-user: the web component's queue requests name their browser session with it.
        allow_headers=["Content-Type", "Authorization", "X-Prefchat-User", "X-Gradio-User"], allow_credentials=False,
    )
    app.add_middleware(CorsHint, allowed=cors_origins)  # outermost: a refused origin is named on the log


class RateLimit:
    r"""A token bucket per key: ``burst`` tokens at first, ``rate`` more a second, one per request.

    .. math:: b_t = \min(\text{burst},\; b_s + \text{rate}\,(t - s)) - 1

    where :math:`s` is the time of the key's previous request; a request that would leave
    :math:`b_t < 0` is refused (and takes nothing). Only the :data:`ADDRESSES` most recent keys are kept.
    """

    def __init__(self, burst: int, rate: float, clock: Callable[[], float] = time.monotonic):
        self.burst, self.rate, self.clock = burst, rate, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, key: str) -> float:
        """0 when ``key`` may go now (its token taken), else the seconds until it may."""
        with self._lock:
            now = self.clock()
            tokens, then = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + self.rate * (now - then))
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            self._buckets[key] = (tokens - 1 if wait == 0 else tokens, now)
            while len(self._buckets) > ADDRESSES:
                self._buckets.popitem(last=False)
            return wait


class _Guard:
    """The ASGI middleware of :func:`guard` (uploads refused, bodies and rates bounded, tabs kept to their browser)."""

    def __init__(self, app: ASGIApp, bounded_elsewhere: tuple[str, ...], limit: RateLimit):
        self.app, self.bounded_elsewhere, self.limit = app, bounded_elsewhere, limit
        self.tabs = TabOwners()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        CLIENT.set(client[0] if client else "")
        if scope["type"] != "http" or scope["path"].startswith(self.bounded_elsewhere):
            await self.app(scope, receive, send)
            return
        refused = next((why for route, why in REFUSED_ROUTES.items() if scope["path"].rstrip("/").endswith(route)), None)
        if refused is not None:
            await _refuse(send, 403, refused)
            return
        if scope["method"] == "POST":
            wait = self.limit.wait(CLIENT.get())
            if wait:
                await _refuse(send, 429, "too many requests: slow down", {"retry-after": str(math.ceil(wait))})
                return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > MAX_BODY:
            await _refuse(send, 413, f"request bodies are limited to {MAX_BODY} bytes")
            return
        chunks, size, more = [], 0, True
        while more:  # the body is read here, at most MAX_BODY bytes of it, then handed on whole
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size, more = size + len(chunks[-1]), message.get("more_body", False)
            if size > MAX_BODY:
                await _refuse(send, 413, f"request bodies are limited to {MAX_BODY} bytes")
                return
        body, owner = b"".join(chunks), tab_cookie(scope)
        if not all(self.tabs.claim(named, owner) for named in session_hashes(scope, body)):
            await _refuse(send, 403, "this tab belongs to another browser")
            return
        await self.app(scope, _replay(body, receive), send if owner else with_tab_cookie(send, scope))


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` whole, then what ``receive`` says (a disconnect, in time)."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _refuse(send: Send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": message}).encode()
    fields = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
              (b"connection", b"close"), *((k.encode(), v.encode()) for k, v in (headers or {}).items())]
    await send({"type": "http.response.start", "status": status, "headers": fields})
    await send({"type": "http.response.body", "body": body})


class CorsHint:
    """ASGI middleware that says on the server's log, once per origin, when a page on another origin
    calls the server and ``PREFCHAT_CORS_ORIGINS`` does not list it: the visitor's browser then
    drops the answers, and an embedded web component shows only Gradio's "Could not load this
    space". It changes no request or response (CORS itself is Starlette's ``CORSMiddleware``)."""

    MAX_TOLD = 100
    """Origins remembered, so that a flood of made-up origins costs bounded memory (and log)."""

    def __init__(self, app, allowed: Iterable[str] = ()) -> None:
        self.app, self.allowed, self.told = app, frozenset(allowed), set[str]()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            origin = headers.get(b"origin", b"").decode("latin-1")
            same = urlsplit(origin).netloc == headers.get(b"host", b"").decode("latin-1")
            if origin and not same and origin not in self.allowed and origin not in self.told and len(self.told) < self.MAX_TOLD:
                self.told.add(origin)
                log.warning("a page at %s called this server, and PREFCHAT_CORS_ORIGINS does not list it: the browser "
                            "drops the answers (an embedded chat shows 'Could not load this space'). To embed the chat "
                            "there, set PREFCHAT_CORS_ORIGINS=%s and restart (docs/embedding.md, Troubleshooting)",
                            origin[:200], origin[:200])
        await self.app(scope, receive, send)
