"""Staff sign-in: signed session tokens, role checks, CSRF protection for the console.

A session token is ``username.expiry.token-id.signature`` (HMAC-SHA256 with the signing key of
:mod:`service.secret_key`). The console gets it as an HttpOnly, SameSite=Strict cookie plus a CSRF
token in a readable cookie that every state-changing request must echo in ``X-CSRF-Token`` (double
submit). Scripts send ``Authorization: Bearer TOKEN`` instead and need no CSRF token (nothing ambient
is used). The account and the token id are looked up on every request, so disabling a user ends
their sessions at once, and signing out ends that token (its id is revoked until it would expire).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from service.container import Services
from service.deps import get_services
from service.errors import ServiceError
from tools.users import User, UserStore

SESSION_COOKIE = "cityagent_staff"
CSRF_COOKIE = "cityagent_csrf"
CSRF_HEADER = "x-csrf-token"
_SAFE = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Claims:
    """What a valid token says: who, until when, and its id (revoked at sign-out)."""

    username: str
    expires: int
    token_id: str


def sign(secret: str, message: str) -> str:
    """HMAC-SHA256 of ``message``, URL-safe base64 without padding."""
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue(secret: str, username: str, ttl_s: int, now: float | None = None) -> tuple[str, str, int]:
    """(session token, CSRF token, expiry as a Unix time)."""
    expires = int((now or time.time()) + ttl_s)
    name = base64.urlsafe_b64encode(username.encode()).decode().rstrip("=")
    body = f"{name}.{expires}.{secrets.token_urlsafe(12)}"
    token = f"{body}.{sign(secret, body)}"
    return token, sign(secret, f"csrf:{token}"), expires


def verify(secret: str, token: str, now: float | None = None) -> Claims | None:
    """The claims of a validly signed, unexpired token, else None (revocation is checked apart)."""
    try:
        name, expires, token_id, signature = token.split(".")
        if not hmac.compare_digest(signature, sign(secret, f"{name}.{expires}.{token_id}")):
            return None
        if int(expires) < (now or time.time()):
            return None
        username = base64.urlsafe_b64decode(name + "=" * (-len(name) % 4)).decode()
        return Claims(username, int(expires), token_id)
    except (ValueError, UnicodeDecodeError):
        return None


def presented_token(request: Request) -> tuple[str, bool]:
    """The token the request carries and whether it came as a bearer header (else the cookie)."""
    header = request.headers.get("authorization", "")
    bearer = header[7:].strip() if header.lower().startswith("bearer ") else ""
    return bearer or request.cookies.get(SESSION_COOKIE, ""), bool(bearer)


def current_user(request: Request, services: Annotated[Services, Depends(get_services)]) -> User:
    """The signed-in user (401 when there is none; 403 on a missing CSRF token for a cookie session)."""
    token, bearer = presented_token(request)
    claims = verify(services.secret, token) if token else None
    store = UserStore(services.engine)
    if claims is None or store.is_revoked(claims.token_id):
        raise ServiceError(401, "not_signed_in", "请先登录（会话不存在、已过期或已退出）。")
    if not bearer and request.method not in _SAFE:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(sent, sign(services.secret, f"csrf:{token}")):
            raise ServiceError(403, "csrf_failed", "缺少或错误的 CSRF 令牌：请刷新页面后重试。")
    user = store.get(claims.username)
    if user is None or user.disabled:
        raise ServiceError(401, "not_signed_in", "账号不存在或已停用。")
    return user


def optional_user(request: Request, services: Services) -> User | None:
    """The signed-in user when the request proves one (as :func:`current_user`), else None (anonymous)."""
    if not request.headers.get("authorization") and SESSION_COOKIE not in request.cookies:
        return None
    try:
        return current_user(request, services)
    except ServiceError:
        return None


def viewer(user: User | None) -> dict[str, Any]:
    """What a chat turn may show this user of enterprises' shared data (see ``User.speaks_for``)."""
    if user is None:
        return {"staff": False, "speaks_for": []}
    return {"staff": user.has("policy_officer"), "speaks_for": [user.enterprise] if user.enterprise else []}


def require(*roles: str) -> Callable[..., Coroutine[Any, Any, User]]:
    """A dependency: the signed-in user, who must hold one of ``roles`` (admin holds all)."""

    async def check(user: Annotated[User, Depends(current_user)]) -> User:
        if not user.has(*roles):
            raise ServiceError(403, "forbidden", f"需要以下角色之一：{'、'.join(roles)}。")
        return user

    return check
