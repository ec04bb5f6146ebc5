"""Staff accounts: caseworkers, policy officers, evaluators and admins, with argon2 password hashes.

Residents have no account (the chat is anonymous). A caseworker may be limited to some
departments: they then see only orders dispatched to those; a caseworker with no
department (the 12345 hotline's own dispatchers) and an admin see every order. An
``enterprise`` account is bound to one 统一社会信用代码: signed in, the chat shows that
enterprise (and no other) what the city's shared data says about it.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from tools.enterprises.credit_code import is_valid

Role = Literal["caseworker", "policy_officer", "evaluator", "admin", "enterprise"]
ROLES: tuple[str, ...] = get_args(Role)
MIN_PASSWORD = 10
_NAME = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{2,64}$")

metadata = MetaData()

staff_users = Table(
    "staff_users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), unique=True, nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("roles", String(128), nullable=False),
    Column("departments", Text, nullable=False),
    Column("disabled", Integer, nullable=False, default=0),
    Column("enterprise", String(18), nullable=True),  # the credit code an enterprise account speaks for
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Tokens signed out before they expire; a row can go once its token would have expired anyway.
revoked_tokens = Table(
    "staff_revoked_tokens",
    metadata,
    Column("token_id", String(32), primary_key=True),
    Column("username", String(64), nullable=False),
    Column("expires", Integer, nullable=False, index=True),  # Unix time
    Column("revoked_at", DateTime(timezone=True), nullable=False),
)


class UserError(ValueError):
    """A user that cannot be created or changed (says why)."""


@dataclass(frozen=True)
class User:
    """A signed-in member of staff."""

    username: str
    roles: tuple[str, ...]
    departments: tuple[str, ...]
    disabled: bool = False
    enterprise: str | None = None  # the credit code of an ``enterprise`` account

    def speaks_for(self, credit_code: str) -> bool:
        """Whether this account may see the non-public facts of ``credit_code``'s enterprise."""
        if self.has("policy_officer"):  # officers (and admins) work with the shared data
            return True
        return "enterprise" in self.roles and self.enterprise is not None and self.enterprise == credit_code

    def has(self, *roles: str) -> bool:
        """Whether the user holds one of ``roles`` (admin holds them all)."""
        return "admin" in self.roles or any(r in self.roles for r in roles)

    def sees_department(self, department: str | None) -> bool:
        """Whether an order of ``department`` is visible to this user."""
        return "admin" in self.roles or not self.departments or department in self.departments


_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash("not-a-real-password-but-a-timing-decoy")


def _user(row: object) -> User:
    return User(
        row.username,  # type: ignore[attr-defined]
        tuple(r for r in row.roles.split(",") if r),  # type: ignore[attr-defined]
        tuple(json.loads(row.departments)),  # type: ignore[attr-defined]
        bool(row.disabled),  # type: ignore[attr-defined]
        row.enterprise,  # type: ignore[attr-defined]
    )


class UserStore:
    """Create, disable, look up and authenticate staff."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(
        self,
        username: str,
        password: str,
        roles: list[str],
        departments: list[str] | None = None,
        *,
        enterprise: str | None = None,
    ) -> User:
        """Create an account; refuse a bad name, an unknown role, a short password or a taken name.

        An ``enterprise`` account needs the valid 统一社会信用代码 it speaks for (and no other role).
        """
        if not _NAME.match(username):
            raise UserError(f"username {username!r}: 2-64 letters, digits, Chinese, '_', '.', '-'")
        unknown = [r for r in roles if r not in ROLES]
        if not roles or unknown:
            raise UserError(f"roles must be among {', '.join(ROLES)}; got {', '.join(roles) or 'none'}")
        if len(password) < MIN_PASSWORD:
            raise UserError(f"the password must have at least {MIN_PASSWORD} characters")
        if ("enterprise" in roles) != (enterprise is not None):
            raise UserError("an enterprise account needs --enterprise CREDIT_CODE, and only it takes one")
        if enterprise is not None and (roles != ["enterprise"] or not is_valid(enterprise)):
            raise UserError(
                f"enterprise {enterprise!r:.40}: a valid 统一社会信用代码, on an account with no other role"
            )
        now = datetime.now(UTC)
        values = {
            "username": username, "password_hash": _HASHER.hash(password), "roles": ",".join(roles),
            "departments": json.dumps(departments or [], ensure_ascii=False), "disabled": 0,
            "enterprise": enterprise,
            "created_at": now, "updated_at": now,
        }  # fmt: skip
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(staff_users).values(**values))
        except IntegrityError as exc:
            raise UserError(f"user {username!r} already exists") from exc
        return User(username, tuple(roles), tuple(departments or []), enterprise=enterprise)

    def set_disabled(self, username: str, disabled: bool = True) -> None:
        """Disable (or enable) an account; a disabled user's sessions stop working at once."""
        with self._engine.begin() as conn:
            changed = conn.execute(
                update(staff_users)
                .where(staff_users.c.username == username)
                .values(disabled=int(disabled), updated_at=datetime.now(UTC))
            ).rowcount
        if not changed:
            raise UserError(f"no user {username!r}")

    def get(self, username: str) -> User | None:
        """The account, or None."""
        with self._engine.connect() as conn:
            row = conn.execute(select(staff_users).where(staff_users.c.username == username)).first()
        return _user(row) if row else None

    def list(self) -> list[User]:
        """Every account."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(staff_users).order_by(staff_users.c.username)).all()
        return [_user(r) for r in rows]

    def revoke(self, token_id: str, username: str, expires: int) -> None:
        """End a token before it expires (idempotent); drop the rows of tokens expired since."""
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            conn.execute(delete(revoked_tokens).where(revoked_tokens.c.expires < int(now.timestamp())))
        row = {"token_id": token_id, "username": username, "expires": expires, "revoked_at": now}
        # signed out twice, or twice at once: revoked either way
        with contextlib.suppress(IntegrityError), self._engine.begin() as conn:
            conn.execute(insert(revoked_tokens).values(**row))

    def is_revoked(self, token_id: str) -> bool:
        """Whether the token was signed out."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(revoked_tokens.c.token_id).where(revoked_tokens.c.token_id == token_id)
            ).first()
        return row is not None

    def authenticate(self, username: str, password: str) -> User | None:
        """The user if the password is right and the account enabled; the same work either way."""
        with self._engine.connect() as conn:
            row = conn.execute(select(staff_users).where(staff_users.c.username == username)).first()
        try:
            _HASHER.verify(row.password_hash if row else _DUMMY, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or row.disabled:
            return None
        return _user(row)
