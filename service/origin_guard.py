"""Refuses writes that another web site makes a browser send.

CORS hides a reply from a page on another origin but does not stop the
request: a multipart POST needs no preflight, so a page anywhere could upload
or replace documents through a visitor's browser (issue 11, item 3). Browsers
say where such a request comes from (`Origin`, and `Sec-Fetch-Site` where
`Origin` is left out); a write is let through only from the service's own
origin or one listed in POLICYQA_CORS_ORIGINS. Clients that are not browsers
(curl, scripts) send neither header and are not affected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

from starlette.types import Receive, Send

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
GUARDED_PREFIX = "/documents"  # the routes that change the index; /search and /ask only read


class CrossSiteWriteGuard:
    """ASGI middleware: 403 for a write to /documents from a foreign or opaque origin."""

    def __init__(self, app: Any, allowed_origins: Iterable[str], refuse: Callable[[str], Any]) -> None:
        self.app = app
        self.allowed = frozenset(o.rstrip("/") for o in allowed_origins)
        self.refuse = refuse  # message -> an ASGI response

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in WRITE_METHODS and scope["path"].startswith(GUARDED_PREFIX):
            reason = self.foreign(scope)
            if reason:
                await self.refuse(reason)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def foreign(self, scope: MutableMapping[str, Any]) -> str:
        """Why the request comes from another site, or '' when it does not."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        origin = headers.get("origin", "").rstrip("/")
        host = headers.get("host", "")
        own = {f"http://{host}", f"https://{host}"} if host else set()
        if origin:
            if origin in own or origin in self.allowed:
                return ""
            return (
                f"writes from the origin {origin!r} are refused: only this service's own pages "
                "and the origins in POLICYQA_CORS_ORIGINS may change documents"
            )
        site = headers.get("sec-fetch-site", "")
        if site in ("cross-site", "same-site"):
            return "a write sent by a page of another site is refused"
        return ""
