"""Fetching a calendar URL a user gave us, without letting it reach into our network.

Every hop is checked: the host is resolved, *every* address it resolves to must be public (not
loopback, private, link-local, multicast, reserved or otherwise special), and the connection is
made to the address we checked (the URL is rewritten to the IP, the name travels in the Host
header and in TLS SNI, and the certificate is verified against the name), so a second DNS answer
cannot swap in an internal address. Redirects are followed by hand, each target checked the same
way, at most ``MAX_HOPS`` of them; the whole fetch has one deadline and a size cap.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

MAX_HOPS = 5
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]


class FetchRefused(OSError):
    """The URL, a redirect or an address it resolves to is not allowed, or a limit was hit."""


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_link_local
        or address.is_loopback
        or address.is_private
        or address.is_unspecified
    )


async def resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True)
class AddressGuard:
    """Which addresses a fetch may connect to; tests swap in their own rule or resolver."""

    allow_private: bool = False
    allowed: Callable[[IPAddress], bool] = is_public
    resolver: Resolver = field(default=resolve)

    def permits(self, address: IPAddress) -> bool:
        return self.allow_private or self.allowed(address)


@dataclass(frozen=True)
class _Pinned:
    url: str  # with the checked IP in place of the name
    host_header: str
    server_name: str


async def _pin(url: str, guard: AddressGuard) -> _Pinned:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchRefused("the calendar address must be an http(s) URL")
    if parts.username or parts.password:
        raise FetchRefused("calendar addresses with a user name or password are not supported")
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = await guard.resolver(host, port)
    except OSError as exc:
        raise FetchRefused(f"{host} cannot be resolved ({exc})") from None
    addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]
    if not addresses:
        raise FetchRefused(f"{host} cannot be resolved")
    for address in addresses:
        if not guard.permits(address):
            raise FetchRefused(f"{host} resolves to a non-public address ({address})")
    address = addresses[0]
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    host_header = f"{host}:{parts.port}" if parts.port else host
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    return _Pinned(pinned, host_header, host)


def _next_url(current: str, location: str | None) -> str:
    if not location:
        raise FetchRefused("the calendar server redirected without a Location")
    target = urljoin(current, location.strip())
    if urlsplit(target).scheme not in ("http", "https"):
        raise FetchRefused("the calendar server redirected to a non-http(s) address")
    return target


async def fetch(
    url: str,
    *,
    timeout_s: float,
    max_bytes: int,
    guard: AddressGuard,
    transport: httpx.AsyncBaseTransport | None = None,
) -> bytes:
    """The body at ``url`` after at most ``MAX_HOPS`` checked redirects, within ``timeout_s``
    in all and ``max_bytes`` long at most."""
    try:
        async with asyncio.timeout(timeout_s):
            return await _fetch(url, timeout_s, max_bytes, guard, transport)
    except TimeoutError:
        raise FetchRefused(f"the calendar server did not answer within {timeout_s:g} s") from None


async def _fetch(
    url: str,
    timeout_s: float,
    max_bytes: int,
    guard: AddressGuard,
    transport: httpx.AsyncBaseTransport | None,
) -> bytes:
    async with httpx.AsyncClient(
        timeout=timeout_s, follow_redirects=False, trust_env=False, transport=transport
    ) as client:
        for _ in range(MAX_HOPS + 1):
            pinned = await _pin(url, guard)
            async with client.stream(
                "GET",
                pinned.url,
                headers={"Host": pinned.host_header, "Accept": "text/calendar"},
                extensions={"sni_hostname": pinned.server_name},
            ) as response:
                if response.is_redirect:
                    url = _next_url(url, response.headers.get("location"))
                    continue
                response.raise_for_status()
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise FetchRefused(f"the calendar is larger than {max_bytes:,} bytes")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > max_bytes:
                        raise FetchRefused(f"the calendar is larger than {max_bytes:,} bytes")
                return bytes(body)
    raise FetchRefused(f"the calendar address redirects more than {MAX_HOPS} times")
