"""The outermost guard of every HTTP request: body size, security headers, unexpected errors.

A plain ASGI middleware rather than an ``@app.middleware("http")`` function,
for three reasons:

* **the body limit holds while streaming.** A declared ``Content-Length`` over
  the limit is refused at once, but a chunked request declares none: the
  bytes are counted as they are received, and the request is answered 413 as
  soon as they pass the limit, whatever the endpoint was doing with them.
  Only a multipart upload may be large; any other body (JSON, a form) is
  read into memory whole, so its limit is small.
* **every response carries the security headers**, an unexpected error's 500
  included: Starlette answers an unhandled exception from its outermost
  layer, outside any middleware, so this guard answers it itself.
* **an unexpected error leaves no traceback**: it is logged by type (the
  handler given), answered 500 with no detail, and not re-raised to the
  server (whose log would print the exception's message and locals).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from retroface.serving import problems


class BodyTooLargeError(Exception):
    """Raised into the app from ``receive`` once a request body passed the limit."""


class RequestGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_plain_body_bytes: int,
        headers_for: Callable[[str], Mapping[str, str]],
        error_response: Callable[[Request, Exception], Response],
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_plain_body_bytes = max_plain_body_bytes
        self.headers_for = headers_for
        self.error_response = error_response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = self.headers_for(scope["path"])
        limit = self._limit(scope)
        started = False
        too_large = False
        replaced = False  # the app's own response was swapped for a 413

        async def guarded_send(message: Message) -> None:
            nonlocal started, replaced
            if message["type"] == "http.response.start":
                if too_large:  # whatever the app made of a cut-off body, the answer is 413
                    replaced = True
                    await self._send_too_large(limit, scope, receive, guarded_send_raw)
                    return
                started = True
                await guarded_send_raw(message)
            elif not replaced:
                await send(message)

        async def guarded_send_raw(message: Message) -> None:
            if message["type"] == "http.response.start":
                target = MutableHeaders(scope=message)
                for name, value in headers.items():
                    target.setdefault(name, value)
            await send(message)

        received = 0

        async def counted_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise BodyTooLargeError
            return message

        declared = _declared_length(scope)
        if declared == "invalid" or (isinstance(declared, int) and declared > limit):
            await self._send_too_large(limit, scope, receive, guarded_send_raw)
            return
        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception as exc:
            if started:
                raise  # too late to answer: the server closes the connection
            if too_large or isinstance(exc, BodyTooLargeError):
                if not replaced:
                    await self._send_too_large(limit, scope, receive, guarded_send_raw)
                return
            response = self.error_response(Request(scope, receive), exc)
            await response(scope, receive, guarded_send_raw)

    def _limit(self, scope: Scope) -> int:
        for name, value in scope["headers"]:
            if name == b"content-type":
                if value.lower().startswith(b"multipart/form-data"):
                    return self.max_body_bytes
                break
        return self.max_plain_body_bytes

    async def _send_too_large(self, limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        response = problems.problem(
            413, "too-large", "Request too large", f"the limit is {limit} bytes"
        )
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _declared_length(scope: Scope) -> int | str | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else "invalid"
    return None
