"""uvicorn as every prefchat server runs it (``serve``, ``serve --workers N``, ``demo``, ``analyst``):
with read timeouts on the request's headers and body.

uvicorn times out an idle kept-alive connection, but not a request half sent: a client that
opens connections and sends a few bytes now and then holds each one open for good (a slowloris).
:class:`TimedH11Protocol` gives every request ``header_timeout`` seconds from its first byte (or
from the connection, for the first request) until its headers are complete, then
``body_timeout`` seconds until its body is; past either it answers ``408 Request Timeout`` (when
no response has started) and closes the connection. While the app works on a request, and
between requests (uvicorn's keep-alive timeout), no read timer runs.

:class:`ServerConfig` is ``uvicorn.Config`` with the two timeouts and this protocol; it is a
module-level class, so that ``serve --workers N`` hands it to spawned workers as it is. Its event
loop is uvicorn's "auto": uvloop, which prefchat installs (but on Windows), else asyncio's.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..assistant.settings import Settings

__all__ = ["ServerConfig", "TimedH11Protocol", "server_config"]

_TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\ncontent-length: 16\r\nconnection: close\r\n\r\nrequest too slow"


class ServerConfig(uvicorn.Config):
    """``uvicorn.Config`` whose connections read each request's headers within ``header_timeout``
    seconds and its body within ``body_timeout`` seconds (:class:`TimedH11Protocol`)."""

    def __init__(self, app: Any, header_timeout: float, body_timeout: float, **kwargs: Any):
        if not (header_timeout > 0 and body_timeout > 0):
            raise ValueError(f"read timeouts must be positive, got {header_timeout!r} and {body_timeout!r}")
        super().__init__(app, http=TimedH11Protocol, **kwargs)
        self.header_timeout, self.body_timeout = header_timeout, body_timeout


def server_config(app: Any, settings: Settings, **kwargs: Any) -> ServerConfig:
    """The :class:`ServerConfig` of ``app`` with the read timeouts of ``settings`` (quiet logs unless ``kwargs`` say)."""
    return ServerConfig(app, settings.header_timeout, settings.body_timeout, **{"log_level": "warning", **kwargs})


class TimedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with the read timeouts of its :class:`ServerConfig`."""

    config: ServerConfig

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._reading: object = None  # h11's state of the client while a read timer runs
        self._read_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._watch()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()  # the keep-alive timeout runs until the next request's first byte
        self._stop_timer()

    def _watch(self) -> None:
        """Run the timer of what the client is sending: headers (h11 IDLE), a body (SEND_BODY), or nothing."""
        state = self.conn.their_state
        if state not in (h11.IDLE, h11.SEND_BODY) or (state is h11.IDLE and self.timeout_keep_alive_task is not None):
            self._stop_timer()
        elif state is not self._reading:
            self._stop_timer()
            seconds = self.config.header_timeout if state is h11.IDLE else self.config.body_timeout
            self._reading, self._read_timer = state, self.loop.call_later(seconds, self._timed_out)

    def _stop_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
        self._reading, self._read_timer = None, None

    def _timed_out(self) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(_TIMED_OUT)
        self.transport.close()
