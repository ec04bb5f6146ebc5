"""Staff sign-in and sign-out (``/api/auth/*``)."""

from __future__ import annotations

import asyncio
import unicodedata
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from service.auth import CSRF_COOKIE, SESSION_COOKIE, current_user, issue, presented_token, verify
from service.container import Services
from service.deps import get_services
from service.errors import ServiceError, rate_limited
from tools.users import User, UserStore

router = APIRouter(prefix="/api/auth", tags=["auth"])


class Login(BaseModel):
    """Credentials."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class Me(BaseModel):
    """Who is signed in; ``token`` (login only) is for scripts: ``Authorization: Bearer …``."""

    username: str
    roles: list[str]
    departments: list[str]
    csrf: str | None = None
    token: str | None = None
    expires: int | None = None


@router.post("/login", response_model=Me)
async def login(
    body: Login, request: Request, response: Response, services: Annotated[Services, Depends(get_services)]
) -> Me:
    """Sign in; sets the session cookie (HttpOnly, SameSite=Strict) and the CSRF cookie.

    Attempts are limited per client address and per account (from any address), counted before
    the password is checked, so neither rotating addresses nor rotating accounts gives more guesses.
    """
    address = request.client.host if request.client else "unknown"
    if wait := services.login_limiter.hit(address):
        raise rate_limited(f"此网络地址登录尝试过于频繁，请 {wait:.0f} 秒后再试。", wait)
    if wait := services.account_limiter.hit(_account_key(body.username)):
        raise rate_limited(f"此账号登录尝试过于频繁，请 {wait:.0f} 秒后再试。", wait)
    user = await asyncio.to_thread(UserStore(services.engine).authenticate, body.username, body.password)
    if user is None:
        raise ServiceError(401, "bad_credentials", "用户名或密码错误，或账号已停用。")
    ttl = services.settings.auth.session_ttl_minutes * 60
    token, csrf, expires = issue(services.secret, user.username, ttl)
    secure = services.settings.env != "dev"
    response.set_cookie(SESSION_COOKIE, token, max_age=ttl, httponly=True, samesite="strict", secure=secure)
    response.set_cookie(CSRF_COOKIE, csrf, max_age=ttl, httponly=False, samesite="strict", secure=secure)
    return Me(username=user.username, roles=list(user.roles), departments=list(user.departments),
              csrf=csrf, token=token, expires=expires)  # fmt: skip


def _account_key(username: str) -> str:
    """One limiter key per account however its name is spelled (width, case, spaces)."""
    return unicodedata.normalize("NFKC", username).strip().casefold()


@router.post("/logout", status_code=204)
async def logout(request: Request, services: Annotated[Services, Depends(get_services)]) -> Response:
    """Sign out: the presented token (cookie or bearer) stops working at once; the cookies are cleared."""
    token, _ = presented_token(request)
    claims = verify(services.secret, token) if token else None
    if claims is not None:
        store = UserStore(services.engine)
        await asyncio.to_thread(store.revoke, claims.token_id, claims.username, claims.expires)
    out = Response(status_code=204)
    out.delete_cookie(SESSION_COOKIE)
    out.delete_cookie(CSRF_COOKIE)
    return out


@router.get("/me", response_model=Me)
async def me(user: Annotated[User, Depends(current_user)]) -> Me:
    """The signed-in user."""
    return Me(username=user.username, roles=list(user.roles), departments=list(user.departments))
