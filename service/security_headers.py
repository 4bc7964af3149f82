"""Response headers that tell browsers what the service's pages may do.

The search page loads its script and style from /static only (no inline
script: `static/page.js` mounts the box), so its Content-Security-Policy can
forbid everything else; a page injected into it could neither run code nor
send data elsewhere. Only /embed may be framed, and only by the origins in
POLICYQA_CORS_ORIGINS (the portal that embeds the search); every other page
refuses frames. No response may be sniffed into another content type.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import Receive, Send

_PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors {frames}"
)
_EMBEDDABLE = "/embed"
_PAGES = frozenset({"/", _EMBEDDABLE})


class SecurityHeaders:
    """ASGI middleware adding nosniff everywhere and a CSP and frame policy to pages."""

    def __init__(self, app: Any, frame_origins: Iterable[str]) -> None:
        self.app = app
        origins = list(frame_origins)
        self.embed_frames = "*" if "*" in origins else " ".join(["'self'", *origins])

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"].rstrip("/") or "/"

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
                if path == _EMBEDDABLE:
                    headers["Content-Security-Policy"] = _PAGE_POLICY.format(frames=self.embed_frames)
                else:
                    # the API docs run Swagger UI's inline script, so only the search page gets the full policy
                    policy = _PAGE_POLICY.format(frames="'none'") if path in _PAGES else "frame-ancestors 'none'"
                    headers["Content-Security-Policy"] = policy
                    headers["X-Frame-Options"] = "DENY"
            await send(message)

        await self.app(scope, receive, send_with_headers)
