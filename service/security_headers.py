"""Browser security headers on every answer: CSP, frame rules, nosniff, referrer policy.

The pages load their scripts from this origin only; an inline script in a shipped page (there is
none today) is allowed by its hash, computed from the file at start-up, so no injected inline script runs.
Styles may be inline (the widget adds a ``<style>`` element; the pages carry ``style`` attributes).

Framing: the residents' side (the demo page, the widget, the chat API) may be framed by the city
sites of ``server.cors_origins`` (``frame-ancestors``); everything else (the staff console, the
evaluation pages, the staff API) by this origin only, also said as ``X-Frame-Options: SAMEORIGIN``
for older browsers (that header cannot name a list of sites, so the embeddable paths go without).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

EMBEDDABLE = ("/", "/widget.js", "/api/chat")  # exact paths, and what is below the /api/ ones
# FastAPI's API browsers load their scripts from a CDN and start them inline: they alone may
# (they show only the OpenAPI schema; nothing on them comes from a user).
API_DOCS = ("/docs", "/docs/oauth2-redirect", "/redoc")
_DOCS_POLICY = (
    "default-src 'self'; script-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'; "
    "style-src 'self' https://cdn.jsdelivr.net https://fonts.googleapis.com 'unsafe-inline'; "
    "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
    "https://cdn.redoc.ly; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; frame-ancestors 'self'"
)
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


def inline_script_hashes(folder: Path) -> list[str]:
    """``'sha256-…'`` sources of every inline script in the folder's HTML pages."""
    hashes = []
    for page in sorted(folder.glob("*.html")):
        for script in _INLINE_SCRIPT.findall(page.read_text(encoding="utf-8")):
            digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
            hashes.append(f"'sha256-{digest}'")
    return hashes


def content_security_policy(frame_ancestors: Iterable[str], script_hashes: Iterable[str]) -> str:
    """The policy, with these ``frame-ancestors`` sources and inline-script hashes."""
    return "; ".join(
        [
            "default-src 'self'",
            " ".join(["script-src 'self'", *script_hashes]),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            " ".join(["frame-ancestors 'self'", *frame_ancestors]),
        ]
    )


def embeddable(path: str) -> bool:
    """Whether a city site may frame ``path`` (the residents' side)."""
    return any(path == p or (p.startswith("/api/") and path.startswith(p + "/")) for p in EMBEDDABLE)


class SecurityHeadersMiddleware:
    """Add the headers to every HTTP answer (errors included)."""

    def __init__(self, app: ASGIApp, allowed_origins: Iterable[str], static_dir: Path) -> None:
        self.app = app
        hashes = inline_script_hashes(static_dir)
        origins = list(allowed_origins)
        common = [(b"x-content-type-options", b"nosniff"),
                  (b"referrer-policy", b"strict-origin-when-cross-origin")]  # fmt: skip
        own = content_security_policy([], hashes).encode()
        self._staff = [*common, (b"content-security-policy", own), (b"x-frame-options", b"SAMEORIGIN")]
        self._docs = [*common, (b"content-security-policy", _DOCS_POLICY.encode()),
                      (b"x-frame-options", b"SAMEORIGIN")]  # fmt: skip
        if origins:
            shared = content_security_policy(origins, hashes).encode()
            self._residents = [*common, (b"content-security-policy", shared)]
        else:
            self._residents = self._staff

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        extra = self._docs if path in API_DOCS else self._residents if embeddable(path) else self._staff

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                headers = list(message.get("headers", []))
                headers += [(k, v) for k, v in extra if k not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
