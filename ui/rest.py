"""The versioned REST API, for hosts that draw their own UI: ``/api/v1/...``.

::

    from fastapi import FastAPI
    from prefchat.ui.rest import api_router

    app = FastAPI()
    app.include_router(api_router(assistant))   # routes under /api/v1 already: no prefix

Routes (JSON in and out; shapes in :mod:`prefchat.ui.schemas`, reference in docs/rest-api.md)::

    POST   /api/v1/sessions                        {user_id?, friends?} -> 201 first turn
    GET    /api/v1/sessions/{id}/question                               -> current turn
    POST   /api/v1/sessions/{id}/answers           {choice | text, question_id} -> next turn
    POST   /api/v1/sessions/{id}/undo                                   -> the question again
    POST   /api/v1/sessions/{id}/finish                                 -> result
    GET    /api/v1/users/{user_id}/profile                              -> posterior per axis
    GET    /api/v1/users/{user_id}/summary                              -> summary
    POST   /api/v1/users/{user_id}/summary/corrections {text}           -> corrected summary
    GET    /api/v1/users/{user_id}/recommendations?k=10                 -> best catalog items
    POST   /api/v1/users/{user_id}/rank            {candidates, k?}     -> candidates, best first
    DELETE /api/v1/users/{user_id}                                      -> 204, everything deleted
    GET    /api/v1/openapi.json

A turn is ``{"type": "question" | "result" | "reask", ...}``.

Errors
------
Every error is ``{"error": {"code": ..., "message": ...}}`` with a 4xx status (a 5xx only for
a fault of the server): 404 ``not_found`` / ``no_profile``, 409 ``session_closed`` /
``conflict`` / ``wrong_pack``, 422 ``invalid_request`` (the body or a parameter breaks the
schema) / ``invalid`` (a value the assistant refuses, e.g. a user id with control characters) /
``correction_not_understood``, 413 ``body_too_large`` (over :data:`MAX_BODY` bytes, by
Content-Length or as streamed), 400 ``invalid_encoding`` (a body that is not UTF-8), 405
``method_not_allowed``, 501 ``not_configured`` (ranking texts or corrections on a server
started without an embedder).

Users and trust
---------------
User ids are the host's opaque strings (1 to 128 characters of ``USER_ID_PATTERN``), given as
``user_id`` when a session starts or in the ``X-Prefchat-User`` header. The API does not
authenticate: it is meant to sit behind the host's backend, which knows who its user is.
When the header is sent, session routes answer 404 for a session of another user, so a host
that forwards its user's id cannot be steered into another user's session.

Concurrency
-----------
Routes are plain functions run in FastAPI's thread pool against one shared
:class:`~prefchat.assistant.api.Assistant`, which keeps its state in storage and takes
the session's row lock before reading it, so that calls about one session run one after the
other in any number of processes; within a process they also queue on a lock here. Every answer
names its ``question_id`` (required), so it is taken once, however often it is sent.
Every response carries ``Server-Timing: app;dur=<ms>``, the time spent in the route.
"""

from __future__ import annotations

import hmac
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.routing import Match

from ..assistant.api import Assistant
from ..assistant.errors import NoProfile, SessionClosed, WrongPack
from ..assistant.settings import check_api_tokens
from ..storage import SESSION_ID_MAX, USER_ID_PATTERN, Conflict, NotFound, check_user_id
from .schemas import (
    MAX_K,
    MAX_USER_ID,
    AnswerIn,
    CheckInOut,
    CorrectionIn,
    ErrorOut,
    ProfileOut,
    RankIn,
    RankingOut,
    ResultOut,
    SessionIn,
    SummaryOut,
    TurnOut,
    axis_names,
    turn_out,
)

__all__ = ["API_PREFIX", "MAX_BODY", "ApiError", "api_router", "error_response"]

API_PREFIX = "/api/v1"
MAX_BODY = 1 << 20
"""Largest request body, in bytes (1 MiB)."""
MAX_SESSION_ID = SESSION_ID_MAX
"""Longest session id accepted in a path: storage's limit (the assistant's are 32 hex digits)."""
SESSION_ID_PATTERN = f"^[0-9A-Za-z_-]{{1,{MAX_SESSION_ID}}}$"
"""What a session id in a path may be (the assistant's are 32 hex digits); anything else is a 422."""
MAX_MESSAGE = 500
"""Error messages are cut to this many characters (they may quote the offending value)."""
FRIENDS_UNKNOWN = "X-Prefchat-Friends-Unknown"
"""The response header of ``POST /sessions`` with ``friends``: how many were left out as unknown."""
SESSION_LOCKS = 64
"""Locks the sessions are spread over by hash (two sessions sharing one merely wait for each other)."""

log = logging.getLogger(__name__)

USER_ID_RULE = (f"1 to {MAX_USER_ID} characters of visible text: any Unicode but control characters, surrogates, spaces "
                "other than U+0020, line separators, invisible format characters and characters that show as blank, "
                "without a space at either end (the pattern), sent as UTF-8")
USER_ID_LIMITS = {"minLength": 1, "maxLength": MAX_USER_ID, "pattern": USER_ID_PATTERN}
UserHeader = Annotated[
    str | None,
    Header(
        alias="X-Prefchat-User",
        description=f"The host's id of the user making the request: {USER_ID_RULE}.",
        json_schema_extra=USER_ID_LIMITS,
    ),
]
# The limits are documented here, and checked by check_user_id (a 422 "invalid" naming the id).
UserPath = Annotated[str, Path(description=f"The host's user id: {USER_ID_RULE}.", json_schema_extra=USER_ID_LIMITS)]
SessionPath = Annotated[str, Path(
    description="A session id, as returned when the session started.",
    json_schema_extra={"minLength": 1, "maxLength": MAX_SESSION_ID, "pattern": SESSION_ID_PATTERN},
)]


class ApiError(HTTPException):
    """An error answered as ``{"error": {"code": code, "message": message}}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(status, message, headers)
        self.code = code


# The assistant's and storage's exceptions, most specific first.
_STATUS: tuple[tuple[type[Exception], int, str], ...] = (
    (NoProfile, 404, "no_profile"),
    (NotFound, 404, "not_found"),
    (SessionClosed, 409, "session_closed"),
    (WrongPack, 409, "wrong_pack"),
    (Conflict, 409, "conflict"),
)
# Only these are the client's fault. Any other exception, a ValueError too (e.g. a PackError of a
# tampered pack), is a fault of the server: a 500 whose details go to the log. The client's values
# are checked at the edge (:func:`_client_value`), before they reach the assistant.
_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}


def _client_value(check: Callable[[str], str], value: str) -> str:
    """``check(value)``, its ValueError (which names the value) answered as 422 ``invalid``."""
    try:
        return check(value)
    except ValueError as error:
        raise ApiError(422, "invalid", str(error)) from None


def _session_id(value: str) -> str:
    if re.fullmatch(SESSION_ID_PATTERN, value) is None:
        raise ValueError(f"session id {value!r} must be 1 to {MAX_SESSION_ID} letters, digits, '-' or '_'")
    return value


def _header_user(value: str | None) -> str | None:
    """The ``X-Prefchat-User`` header's user id, read as UTF-8 (HTTP servers hand headers over as Latin-1)."""
    if value is None:
        return None
    try:
        value = value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise ApiError(400, "invalid_encoding", f"X-Prefchat-User {value!r} is not UTF-8") from None
    return _client_value(check_user_id, value)


def error_response(error: Exception) -> JSONResponse:
    """The JSON error response of an exception raised while answering a request."""
    if isinstance(error, ApiError):
        status, code, message = error.status_code, error.code, error.detail
    elif isinstance(error, RequestValidationError):
        status, code, message = 422, "invalid_request", _validation_message(error.errors())
    elif isinstance(error, HTTPException):
        status, code, message = error.status_code, _HTTP_CODES.get(error.status_code, "error"), str(error.detail)
    else:
        known = next(((s, c) for kind, s, c in _STATUS if isinstance(error, kind)), None)
        if known is None:
            log.exception("internal error", exc_info=error)
            status, code, message = 500, "internal", "internal error: the server log has the details"
        else:
            (status, code), message = known, str(error)
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 1] + "…"
    headers = getattr(error, "headers", None)
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _validation_message(errors: Sequence[Mapping[str, Any]]) -> str:
    """Pydantic's errors in one line: ``body.choice: Input should be 'a', 'b', 'tie' or 'skip'``."""
    parts = []
    for error in errors:
        where = ".".join(str(part) for part in error.get("loc", ()))
        detail = error.get("ctx", {}).get("error") if error.get("type") == "json_invalid" else None
        parts.append(f"{where}: {error['msg']}" + (f" ({detail})" if detail else ""))
    return "; ".join(parts) or "invalid request"


class _BoundedRequest(Request):
    """A request whose body is at most :data:`MAX_BODY` bytes of UTF-8, else an :class:`ApiError`."""

    async def body(self) -> bytes:
        if not hasattr(self, "_body"):
            declared = self.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_BODY:
                raise _too_large(f"Content-Length is {declared} bytes")
            chunks, size = [], 0
            async for chunk in self.stream():
                size += len(chunk)
                if size > MAX_BODY:
                    raise _too_large("the body streamed is larger")
                chunks.append(chunk)
            body = b"".join(chunks)
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ApiError(
                    400, "invalid_encoding", f"the body is not UTF-8: byte {body[error.start]:#04x} at offset {error.start}"
                ) from None
            self._body = body
        return self._body


def _too_large(why: str) -> ApiError:
    return ApiError(413, "body_too_large", f"request bodies are limited to {MAX_BODY} bytes; {why}", {"Connection": "close"})


def _authorised(request: Request, tokens: tuple[str, ...]) -> bool:
    """Whether the request carries ``Authorization: Bearer <one of tokens>`` (compared in constant time)."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    given = credentials.strip().encode("latin-1", "replace")
    found = False
    for token in tokens:  # every token is compared, so the time says nothing about which matched
        found |= hmac.compare_digest(given, token.encode("ascii"))
    return scheme.lower() == "bearer" and found


def _unauthorised() -> ApiError:
    return ApiError(401, "unauthorized", "this API needs 'Authorization: Bearer <token>' with a valid token",
                    {"WWW-Authenticate": 'Bearer realm="prefchat"'})


class _ApiRoute(APIRoute):
    """Bounded UTF-8 bodies, every error as JSON, a ``Server-Timing`` header, and the bearer
    token checked first when :attr:`tokens` are set (a route class per router sets them)."""

    tokens: tuple[str, ...] = ()
    public: frozenset[str] = frozenset()

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def bounded_handler(request: Request) -> Response:
            started = time.perf_counter()
            try:
                if self.tokens and self.path not in self.public and not _authorised(request, self.tokens):
                    raise _unauthorised()
                response = await handler(_BoundedRequest(request.scope, request.receive))
            except Exception as error:  # every error is answered in the API's format
                response = error_response(error)
            response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
            return response

        return bounded_handler


def api_router(
    assistant: Assistant | Callable[[], Assistant], tokens: Sequence[str] | None = None
) -> APIRouter:
    """The REST API's routes, under :data:`API_PREFIX`.

    Parameters
    ----------
    assistant : Assistant, or a callable returning one
        The assistant to serve; a callable is called on every request (e.g. to open the pack on
        first use: it should return the same cached object each time).
    tokens : sequence of str, optional
        Bearer tokens (several, to rotate them): every route but ``/openapi.json`` then answers
        401 unless the request sends ``Authorization: Bearer <one of them>``. Without tokens the
        API authenticates no one: the host's app must (``prefchat serve`` refuses to listen
        beyond loopback without one).
    """
    current: Callable[[], Assistant] = assistant if callable(assistant) else lambda: assistant
    locks = tuple(threading.Lock() for _ in range(SESSION_LOCKS))
    statuses = (400, 401, 404, 409, 413, 422, 501) if tokens else (400, 404, 409, 413, 422, 501)
    errors: dict[int | str, dict[str, Any]] = {status: {"model": ErrorOut} for status in statuses}
    checked = check_api_tokens(tokens or ())
    route_class = type("_ApiRoute", (_ApiRoute,), {"tokens": checked, "public": frozenset({f"{API_PREFIX}/openapi.json"})})
    router = APIRouter(prefix=API_PREFIX, route_class=route_class, responses=errors, tags=["prefchat"])

    @contextmanager
    def session(session_id: str, user: str | None) -> Iterator[Assistant]:
        """The assistant, while holding the session's lock; a session of another user than ``user`` is not found."""
        assistant = current()
        session_id = _client_value(_session_id, session_id)
        user = _header_user(user)
        if user is not None and assistant.store.get_session(session_id).user_id != user:
            raise NotFound(f"session {session_id!r} not found")
        with locks[hash(session_id) % len(locks)]:
            yield assistant

    def embedder_needed(assistant: Assistant, purpose: str) -> None:
        if assistant.embed is None:
            raise ApiError(501, "not_configured", f"{purpose} need an embedder, and this server was started without one")

    @router.post("/sessions", status_code=201, response_model=TurnOut, summary="Start onboarding")
    def create_session(response: Response, body: SessionIn | None = None, x_prefchat_user: UserHeader = None):
        """Start onboarding for ``user_id`` (body or ``X-Prefchat-User``; created on first sight), or for
        a new anonymous user; the user's unfinished session of this pack is abandoned. Returns the first
        question (or the result, if the session asks none). ``friends`` replace the user's stored
        friends; ``X-Prefchat-Friends-Unknown`` counts those left out as unknown."""
        named = None if body is None else body.user_id
        header = _header_user(x_prefchat_user)
        if named is not None and header is not None and named != header:
            raise ApiError(422, "invalid", f"user_id {named!r} differs from X-Prefchat-User {header!r}")
        friends = None if body is None else body.friends
        assistant = current()
        turn = assistant.start(named or header, friends=friends)
        if friends is not None:
            response.headers[FRIENDS_UNKNOWN] = str(len(friends) - len(assistant.store.friends_of(turn.user_id)))
        return turn_out(turn)

    @router.get("/sessions/{session_id}/question", response_model=TurnOut, summary="Current question")
    def current_question(session_id: SessionPath, x_prefchat_user: UserHeader = None):
        """The question waiting for an answer, or the result of a finished session."""
        with session(session_id, x_prefchat_user) as assistant:
            return turn_out(assistant.resume(session_id))

    @router.post("/sessions/{session_id}/answers", response_model=TurnOut, summary="Answer the current question")
    def answer(session_id: SessionPath, body: AnswerIn, x_prefchat_user: UserHeader = None):
        """``{"choice": "a"}`` (or b, tie, skip) or ``{"text": "the first one"}``. Returns the next
        question, the result when onboarding is over, or a ``reask`` turn when the text is no answer
        (nothing is stored then)."""
        with session(session_id, x_prefchat_user) as assistant:
            return turn_out(assistant.answer(session_id, body.answer, body.question_id, by_id=body.item_id is not None))

    @router.post("/sessions/{session_id}/undo", response_model=TurnOut, summary="Take back the last answer")
    def undo(session_id: SessionPath, x_prefchat_user: UserHeader = None):
        """The last answer is undone (kept in the history as undone) and its question asked again."""
        with session(session_id, x_prefchat_user) as assistant:
            return turn_out(assistant.undo(session_id))

    @router.post("/sessions/{session_id}/finish", response_model=ResultOut, summary="End onboarding now")
    def finish(session_id: SessionPath, x_prefchat_user: UserHeader = None):
        """Store the profile and summary from the answers so far; a finished session gives its result again."""
        with session(session_id, x_prefchat_user) as assistant:
            return ResultOut.model_validate(assistant.finish(session_id))

    @router.get("/users/{user_id}/profile", response_model=ProfileOut, summary="The user's coefficients")
    def profile(user_id: UserPath):
        """The posterior mean and standard deviation of the user's coefficient on each named axis."""
        user_id = _client_value(check_user_id, user_id)
        assistant = current()
        return ProfileOut.of(assistant.profile(user_id), axis_names(assistant.pack))

    @router.get("/users/{user_id}/profile/history", response_model=list[ProfileOut], summary="Every saved profile")
    def profile_history(user_id: UserPath):
        """Every version of the user's profile of this pack ever saved, oldest first: a check-in's new
        profile never rewrites the old one out of sight."""
        user_id = _client_value(check_user_id, user_id)
        assistant = current()
        names = axis_names(assistant.pack)
        return [ProfileOut.of(p, names) for p in assistant.store.profile_history(user_id, assistant.pack.name)
                if p.pack_version == assistant.pack.version]

    @router.get("/users/{user_id}/checkin", response_model=CheckInOut, summary="Is a check-in due")
    def checkin_due(user_id: UserPath):
        """Whether the returning user is due a check-in (their profile last checked at least the pack's
        timescale ago; never on a pack without one), and the greeting to show."""
        user_id = _client_value(check_user_id, user_id)
        message = current().checkin_offer(user_id)
        return CheckInOut(user_id=user_id, due=message is not None, message=message)

    @router.post("/users/{user_id}/checkin", status_code=201, response_model=TurnOut, summary="Start a check-in")
    def start_checkin(user_id: UserPath, x_prefchat_user: UserHeader = None):
        """Start the returning user's check-in: three questions that test the stored profile, answered
        (``/sessions/{session_id}/answers``), undone and finished as onboarding is. When it finishes, the
        profile is kept or widened by the answers and the summary says what moved; the old profile stays in
        ``/users/{user_id}/profile/history``. 404 ``no_profile`` before a finished onboarding."""
        user_id = _client_value(check_user_id, user_id)
        header = _header_user(x_prefchat_user)
        if header is not None and header != user_id:  # another user's check-in is not found, as their sessions are
            raise NotFound(f"user {user_id!r} not found")
        return turn_out(current().check_in(user_id))

    @router.delete("/users/{user_id}/checkin", status_code=204, response_class=Response, summary="Not now: decline a check-in")
    def decline_checkin(user_id: UserPath, x_prefchat_user: UserHeader = None):
        """The returning user's "Not now" to the check-in offered: remembered, so that ``GET
        /users/{user_id}/checkin`` is not ``due`` again until one check-in timescale after it. The profile and
        answers stay as they are. 404 ``no_profile`` before a finished onboarding."""
        user_id = _client_value(check_user_id, user_id)
        header = _header_user(x_prefchat_user)
        if header is not None and header != user_id:  # as a check-in's start: another user's is not found
            raise NotFound(f"user {user_id!r} not found")
        current().decline_checkin(user_id)
        return Response(status_code=204)

    @router.get("/users/{user_id}/summary", response_model=SummaryOut, summary="The user's summary")
    def summary(user_id: UserPath):
        """The semantic preference summary: the text, and the weights behind it."""
        user_id = _client_value(check_user_id, user_id)
        return SummaryOut.of(user_id, current().summary(user_id))

    @router.post("/users/{user_id}/summary/corrections", response_model=SummaryOut, summary="Correct the summary")
    def correct(user_id: UserPath, body: CorrectionIn):
        """Correct the summary in words ("actually I love musicals"); stored as a new version, and
        rankings follow it at once. 422 ``correction_not_understood`` when no known taste is named."""
        user_id = _client_value(check_user_id, user_id)
        assistant = current()
        embedder_needed(assistant, "corrections")
        corrected = assistant.correct(user_id, body.text)
        if corrected is None:
            raise ApiError(422, "correction_not_understood", f"no known taste is named in {body.text!r}")
        return SummaryOut.of(user_id, corrected)

    @router.get("/users/{user_id}/recommendations", response_model=RankingOut, summary="Recommendations")
    def recommendations(user_id: UserPath, k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
                        less_obvious: Annotated[bool, Query(description="fewer of the items everyone knows")] = False):
        """The ``k`` best catalog items for the user, each with the reasons it scores high.

        ``less_obvious=true`` ranks with the weakest validated exposure control that leaves at most
        3 in 10 among the 100 most popular items, the strongest validated when none does, as the
        chat's "show me less obvious picks" does (:meth:`~prefchat.assistant.api.Assistant.less_obvious`)."""
        user_id = _client_value(check_user_id, user_id)
        app = current()
        return RankingOut.of(user_id, app.less_obvious(user_id, k) if less_obvious else app.recommend(user_id, k))

    @router.post("/users/{user_id}/rank", response_model=RankingOut, summary="Rank texts for the user")
    def rank(user_id: UserPath, body: RankIn):
        """Best-of-N: rank texts outside the catalog (e.g. drafts of a reply), best first; ``index`` is
        the position in ``candidates``."""
        user_id = _client_value(check_user_id, user_id)
        assistant = current()
        embedder_needed(assistant, "ranking texts")
        return RankingOut.of(user_id, assistant.rank(user_id, body.candidates, body.k))

    @router.delete("/users/{user_id}", status_code=204, response_class=Response, summary="Delete the user")
    def delete_user(user_id: UserPath):
        """Delete the user and everything stored about them (sessions, answers, profiles, summaries)."""
        user_id = _client_value(check_user_id, user_id)
        current().forget(user_id)
        return Response(status_code=204)

    documented = [route for route in router.routes if isinstance(route, APIRoute)]  # all of them: route_class

    def not_allowed(request: Request) -> None:
        """405 for a documented path asked with a method it does not take."""
        allowed = {m for route in documented if route.matches(request.scope)[0] is Match.PARTIAL for m in route.methods or ()}
        if allowed:
            message = f"{request.method} is not allowed on {request.url.path}"
            raise ApiError(405, "method_not_allowed", message, {"Allow": ", ".join(sorted(allowed))})

    # A user id may hold "/" (sent as is, or as %2F): the same routes once more, with a user id
    # that spans path segments, tried after the documented ones. ("." and ".." are sent as %2E
    # and %2E%2E, which clients do not drop as dot segments.) A path that is a documented route's
    # own (DELETE /users/x/profile) is that route's 405, not the user "x/profile".
    for route in documented:
        if "{user_id}" in route.path:
            router.add_api_route(
                route.path.replace("{user_id}", "{user_id:path}").removeprefix(API_PREFIX), route.endpoint,
                methods=list(route.methods or ()), status_code=route.status_code, response_model=route.response_model,
                response_class=route.response_class, include_in_schema=False, dependencies=[Depends(not_allowed)],
            )

    @router.get("/openapi.json", include_in_schema=False)
    def openapi(request: Request):
        """The OpenAPI document of these routes alone (paths under :data:`API_PREFIX`); public
        even when the routes need a token (it describes the API, and holds no data)."""
        document = get_openapi(
            title="prefchat REST API",
            version=API_PREFIX.rsplit("/", 1)[-1],
            summary="Onboard a user in about ten pairwise questions, then rank for them.",
            routes=documented,
            servers=[{"url": request.scope.get("root_path") or "/"}],
        )
        if checked:
            document.setdefault("components", {})["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
            document["security"] = [{"bearer": []}]
        return document

    # The methods HTTP APIs use (CONNECT aside), QUERY too: one left out fell through to what the host mounted at "/"
    # (the chat answered QUERY with its own 404).
    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "QUERY"]

    @router.api_route("/{path:path}", methods=methods, include_in_schema=False)
    def unknown(request: Request):
        """404 in the API's format, or 405 for a known path asked with another method."""
        not_allowed(request)
        raise ApiError(404, "not_found", f"no route {request.url.path}")

    return router
