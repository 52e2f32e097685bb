"""ASGI plumbing for the simulator: read a whole HTTP request, send a whole response, answer the lifespan."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HttpRequest", "HttpResponse", "Message", "Receive", "Scope", "Send", "lifespan"]

# The ASGI signatures, as Starlette spells them.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass
class HttpRequest:
    """One HTTP request, body read in full; ``client_ip`` honours ``X-Forwarded-For``."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes
    client_ip: str

    @classmethod
    async def read(cls, scope: Scope, receive: Receive) -> HttpRequest:
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("utf-8", "replace") for k, v in scope.get("headers", ())}
        forwarded = headers.get("x-forwarded-for", "").split(",")[0].strip()
        client = scope.get("client") or ("127.0.0.1", 0)
        return cls(
            method=scope.get("method", "GET").upper(),
            path=scope.get("path", "/"),
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            body=b"".join(chunks),
            client_ip=forwarded or client[0],
        )


@dataclass
class HttpResponse:
    """One HTTP response; ``content-length`` is added when it is sent."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    async def send(self, send: Send, *, head: bool = False) -> None:
        headers = [*self.headers, ("content-length", str(len(self.body)))]
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": [(k.encode("latin-1"), v.encode("utf-8")) for k, v in headers],
            }
        )
        await send({"type": "http.response.body", "body": b"" if head else self.body})


async def lifespan(receive: Receive, send: Send) -> None:
    """Answer the server's ``lifespan`` startup and shutdown messages (nothing to set up)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
