"""The key that signs staff sessions and residents' chat sessions.

``auth.secret_key`` when it is set; otherwise a random key generated on first start into
``<data_dir>/secret_key`` (mode 0600, created atomically so two workers starting at once agree
on one key). There is no built-in default: a key anyone can read in the source signs nothing.

A key file that group or others can read is refused, not repaired: it may already have been
copied, and every session signed with it could be forged. Delete it (every session ends) and
start again, or ``chmod 600`` it if you know nobody else read it.

Listening beyond loopback needs a key configured explicitly (environment or settings), so that
every worker and every host behind a load balancer share it knowingly: :func:`bind_problem`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import stat
from pathlib import Path

from service.settings import MIN_SECRET_LENGTH, Settings, is_placeholder_secret

SECRET_FILE = "secret_key"  # noqa: S105 - a file name


class SecretKeyError(ValueError):
    """The signing key cannot be used (the message says what to do)."""


def configured_secret(settings: Settings) -> str | None:
    """The key set in the environment or settings, when it is a real one (not a placeholder)."""
    if settings.auth.secret_key is None:
        return None
    value = settings.auth.secret_key.get_secret_value()
    return None if is_placeholder_secret(value) else value


def signing_secret(settings: Settings) -> str:
    """The configured key, else the data dir's generated one (created on first use)."""
    return configured_secret(settings) or load_or_create(settings.data_dir / SECRET_FILE)


def load_or_create(path: Path) -> str:
    """The key in ``path``; a new random one written there (owner-only) when there is none."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        _create(path)
    return _read(path)


def _create(path: Path) -> None:
    """Write a new key to a private temporary file, then link it into place (fails if one exists)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_urlsafe(48))
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # another worker won the race: use its key
            os.link(temporary, path)  # atomic: the key is either absent or whole, never half-written
    finally:
        temporary.unlink(missing_ok=True)


def _read(path: Path) -> str:
    info = path.stat()
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretKeyError(
            f"{path} is readable by other users (mode {stat.S_IMODE(info.st_mode):04o}); it may have "
            f"leaked: delete it (a new key is generated and every session ends) or chmod 600 it"
        )
    if info.st_uid != os.getuid():
        raise SecretKeyError(f"{path} belongs to another user (uid {info.st_uid}); refusing to use it")
    value = path.read_text(encoding="ascii").strip()
    if len(value) < MIN_SECRET_LENGTH:
        raise SecretKeyError(
            f"{path} holds no usable key (fewer than {MIN_SECRET_LENGTH} characters): delete it"
        )
    return value


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ::1) or ``localhost``."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def bind_problem(host: str, settings: Settings) -> str | None:
    """Why the service must not listen on ``host`` with these settings (None: it may)."""
    if is_loopback(host):
        return None
    secret = configured_secret(settings)
    if secret is None or len(secret) < MIN_SECRET_LENGTH:
        return (
            f"refusing to listen on {host} without a signing key: set CITYAGENT_AUTH__SECRET_KEY to a "
            f"random value of at least {MIN_SECRET_LENGTH} characters (python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))'), or listen on 127.0.0.1"
        )
    return None
