"""Block outbound network in tests: only loopback and Unix sockets may be reached.

A forgotten model-hub download or cloud API call then fails at once with
:class:`NetworkBlockedError` naming the address, instead of hanging or passing by luck.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


class NetworkBlockedError(ConnectionRefusedError):
    """A test tried to reach a non-loopback address."""


def _is_loopback(host: str) -> bool:
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%", maxsplit=1)[0]).is_loopback
    except ValueError:
        return False


def _check(sock: socket.socket, address: Any) -> None:
    if sock.family == socket.AF_UNIX:
        return
    host = address[0] if isinstance(address, tuple) else str(address)
    if not _is_loopback(str(host)):
        raise NetworkBlockedError(f"tests may only reach loopback; blocked connection to {address!r}")


def _connect(self: socket.socket, address: Any) -> None:
    _check(self, address)
    _real_connect(self, address)


def _connect_ex(self: socket.socket, address: Any) -> int:
    _check(self, address)
    return _real_connect_ex(self, address)


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host is not None and not _is_loopback(host.decode() if isinstance(host, bytes) else str(host)):
        raise NetworkBlockedError(f"tests may only reach loopback; blocked name lookup of {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


def install() -> None:
    """Patch the socket module for this process."""
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _getaddrinfo
