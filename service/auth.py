"""Staff sign-in: signed session tokens, role checks, CSRF protection for the console.

A session token is ``username.expiry.signature`` (HMAC-SHA256 with ``auth.secret_key``). The
console gets it as an HttpOnly, SameSite=Strict cookie plus a CSRF token in a readable cookie
that every state-changing request must echo in ``X-CSRF-Token`` (double submit). Scripts send
``Authorization: Bearer TOKEN`` instead and need no CSRF token (nothing ambient is used).
The account is looked up on every request, so disabling a user ends their sessions at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Coroutine
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


def _sign(secret: str, message: str) -> str:
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue(secret: str, username: str, ttl_s: int, now: float | None = None) -> tuple[str, str, int]:
    """(session token, CSRF token, expiry as a Unix time)."""
    expires = int((now or time.time()) + ttl_s)
    name = base64.urlsafe_b64encode(username.encode()).decode().rstrip("=")
    body = f"{name}.{expires}"
    token = f"{body}.{_sign(secret, body)}"
    return token, _sign(secret, f"csrf:{token}"), expires


def verify(secret: str, token: str, now: float | None = None) -> str | None:
    """The username of a valid, unexpired token, else None."""
    try:
        name, expires, signature = token.split(".")
        if not hmac.compare_digest(signature, _sign(secret, f"{name}.{expires}")):
            return None
        if int(expires) < (now or time.time()):
            return None
        return base64.urlsafe_b64decode(name + "=" * (-len(name) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def current_user(request: Request, services: Annotated[Services, Depends(get_services)]) -> User:
    """The signed-in user (401 when there is none; 403 on a missing CSRF token for a cookie session)."""
    secret = services.settings.auth.secret_key.get_secret_value()
    header = request.headers.get("authorization", "")
    bearer = header[7:].strip() if header.lower().startswith("bearer ") else ""
    token = bearer or request.cookies.get(SESSION_COOKIE, "")
    username = verify(secret, token) if token else None
    if username is None:
        raise ServiceError(401, "not_signed_in", "请先登录（会话不存在或已过期）。")
    if not bearer and request.method not in _SAFE:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(sent, _sign(secret, f"csrf:{token}")):
            raise ServiceError(403, "csrf_failed", "缺少或错误的 CSRF 令牌：请刷新页面后重试。")
    user = UserStore(services.engine).get(username)
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
