"""The client's address and scheme as seen through the reverse proxies we were told to trust.

``X-Forwarded-For`` is anyone's to write, so it is read only when the connection comes from an
address in ``TRUSTED_PROXIES`` (none by default, so on the embedded default the header changes
nothing). Then the header is walked from the right, skipping trusted hops; the first address
that is not a trusted proxy is the client. Rate limits and logs use that address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from litestar.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """``10.0.0.5`` or ``10.0.0.0/8`` (IPv4 or IPv6); ValueError names a bad entry."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network") from None
    return tuple(networks)


class TrustedProxies:
    def __init__(self, networks: Iterable[Network]) -> None:
        self.networks = tuple(networks)

    def trusts(self, address: str) -> bool:
        parsed = _ip(address)
        return parsed is not None and any(parsed in network for network in self.networks)

    def client_address(self, peer: str, forwarded_for: Iterable[str]) -> str:
        """The client behind ``peer``, given the ``X-Forwarded-For`` header values in order."""
        if not self.trusts(peer):
            return peer
        hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
        client = peer
        for hop in reversed(hops):
            if _ip(hop) is None:
                break  # a malformed entry: nothing left of it can be believed
            client = hop
            if not self.trusts(hop):
                break
        return client


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class ForwardedClientMiddleware:
    """Sets the ASGI ``client`` (and ``scheme``, from ``X-Forwarded-Proto``) for requests that
    came through a trusted proxy; every other request is left exactly as the server saw it."""

    def __init__(self, app: ASGIApp, proxies: TrustedProxies) -> None:
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        peer = scope.get("client")
        if scope["type"] in ("http", "websocket") and peer and self.proxies.trusts(peer[0]):
            scope = self._forwarded(scope, peer[0])
        await self.app(scope, receive, send)

    def _forwarded(self, scope: Any, peer: str) -> Any:
        headers = scope["headers"]
        forwarded_for = [v.decode("latin-1") for k, v in headers if k == b"x-forwarded-for"]
        protos = [v.decode("latin-1") for k, v in headers if k == b"x-forwarded-proto"]
        scope["client"] = (self.proxies.client_address(peer, forwarded_for), 0)
        proto = protos[-1].split(",")[-1].strip().lower() if protos else ""
        if proto in ("http", "https"):
            secure = proto == "https"
            if scope["type"] == "websocket":
                scope["scheme"] = "wss" if secure else "ws"
            else:
                scope["scheme"] = proto
        return scope
