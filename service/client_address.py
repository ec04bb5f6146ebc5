"""Who the client is: the TCP peer, unless the peer is a configured reverse proxy.

``X-Forwarded-For`` and ``X-Real-IP`` are anyone's to write, so they are believed only when the
connection comes from an address in ``server.trusted_proxies`` (none by default). Then the client
is the right-most address of ``X-Forwarded-For`` that is not itself a trusted proxy (each proxy
appends the address it saw; what is left of the first untrusted one was written by the client).

:class:`ClientAddressMiddleware` writes the result into the ASGI scope's ``client``, so every reader
of ``request.client`` (rate limits, the metrics' loopback check, the access log) sees the same
address. uvicorn's own proxy-header handling is switched off by ``cityagent serve``: by default it
trusts 127.0.0.1, which let any local client choose its address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class TrustedProxies:
    """The configured proxy networks, and the client address a request's headers resolve to."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.networks: list[Network] = [ipaddress.ip_network(e, strict=False) for e in entries]

    def trusts(self, host: str) -> bool:
        """Whether ``host`` is one of the trusted proxies."""
        address = _address(host)
        return address is not None and any(address in net for net in self.networks)

    def client(self, peer: str, forwarded_for: str, real_ip: str) -> str:
        """The client's address for a connection from ``peer`` carrying these headers."""
        if not self.networks or not self.trusts(peer):
            return peer
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        nearest = peer
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:  # not an address: nothing left of it can be believed
                return nearest
            if not self.trusts(str(address)):
                return str(address)
            nearest = str(address)
        if not hops and (real := _address(real_ip)) is not None:
            return str(real)
        return nearest


class ClientAddressMiddleware:
    """Replace the scope's client by the address :class:`TrustedProxies` resolves (outermost)."""

    def __init__(self, app: ASGIApp, trusted_proxies: Iterable[str]) -> None:
        self.app = app
        self.proxies = TrustedProxies(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] in ("http", "websocket") and self.proxies.networks and scope.get("client"):
            peer, port = scope["client"]
            headers: dict[bytes, list[bytes]] = {}
            for key, value in scope.get("headers") or []:
                headers.setdefault(key.lower(), []).append(value)
            forwarded = ",".join(v.decode("latin-1") for v in headers.get(b"x-forwarded-for", []))
            real_ip = headers.get(b"x-real-ip", [b""])[-1].decode("latin-1")
            client = self.proxies.client(peer, forwarded, real_ip)
            scope["client"] = (client, port if client == peer else 0)  # in place: the access log sees it
        await self.app(scope, receive, send)
