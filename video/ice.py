"""ICE for the lesson room: which servers browsers and the media server use, and on which
addresses the media server talks.

- Browsers get the ``ICE_SERVERS`` URLs (TURN with ``TURN_USERNAME``/``TURN_CREDENTIAL``) and,
  when Twilio is configured, short-lived TURN credentials from Twilio's Network Traversal Service,
  fetched per join (``video.twilio_turn``). With nothing configured they get no servers at all:
  host candidates only.
- The media server (aiortc) uses only the STUN URLs of ``ICE_SERVERS``, and an explicit empty
  list otherwise: aiortc's default would contact Google's public STUN server.
- ``ROOM_MEDIA_ADDRESSES`` limits the addresses the media server gathers host candidates on.
  aioice never gathers 127.0.0.1 by itself; naming it keeps every packet on this machine. When
  every address is loopback, the server also refuses remote candidates and connectivity checks
  from other addresses, so it never sends a packet anywhere else (a browser offers its LAN
  address too). mDNS (``.local``) candidates are always ignored: the media server has a routable
  address, browsers reach it, and resolving them would send multicast from the server.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from marketplace.settings import VideoSettings

if TYPE_CHECKING:
    from aiortc import RTCConfiguration, RTCPeerConnection

logger = logging.getLogger(__name__)


class TurnProvider(Protocol):
    async def ice_servers(self, ttl_seconds: int) -> list[dict[str, Any]]: ...


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class AddressPolicy:
    """Where the media server may gather candidates and whom it may answer."""

    host_addresses: tuple[str, ...] = ()  # empty: aioice's default (every non-loopback address)

    @property
    def loopback_only(self) -> bool:
        return bool(self.host_addresses) and all(map(_is_loopback, self.host_addresses))

    def allows_remote(self, address: str) -> bool:
        """May the server send to a remote candidate or check from ``address``?"""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False  # an mDNS name (or anything else that is not an address)
        return ip.is_loopback or not self.loopback_only

    def allows_candidate_line(self, line: str) -> bool:
        """``line`` is an SDP candidate attribute (``candidate:...``) or a browser's
        ``RTCIceCandidate.candidate``; its fifth field is the address."""
        bits = line.removeprefix("a=").split()
        return len(bits) >= 8 and bits[2].lower() == "udp" and self.allows_remote(bits[4])

    def apply(self, pc: RTCPeerConnection) -> None:
        """Restrict the ICE agents of ``pc``; call after its transceivers exist and before
        ``setLocalDescription`` (which gathers)."""
        for connection in _ice_connections(pc):
            if getattr(connection, "_duet_policy", None) is self:
                continue
            connection._duet_policy = self
            if self.host_addresses:
                _limit_host_addresses(connection, list(self.host_addresses))
            if self.loopback_only:
                _refuse_checks_from_elsewhere(connection, self)


def _ice_connections(pc: RTCPeerConnection) -> list[Any]:
    found: list[Any] = []
    for transceiver in pc.getTransceivers():
        connection = transceiver.receiver.transport.transport.iceGatherer._connection
        if connection not in found:
            found.append(connection)
    return found


def _limit_host_addresses(connection: Any, allowed: list[str]) -> None:
    gather: Callable[..., Awaitable[list[Any]]] = connection.get_component_candidates

    async def only_allowed(component: int, addresses: list[str], **kwargs: Any) -> list[Any]:
        return await gather(component=component, addresses=allowed, **kwargs)

    connection.get_component_candidates = only_allowed


def _refuse_checks_from_elsewhere(connection: Any, policy: AddressPolicy) -> None:
    answer = connection.request_received

    def filtered(message: Any, addr: tuple[str, int], protocol: Any) -> None:
        if policy.allows_remote(addr[0]):
            answer(message, addr, protocol)
        else:
            logger.debug("ignoring an ICE check from %s (loopback-only media)", addr[0])

    connection.request_received = filtered


def server_configuration(settings: VideoSettings) -> RTCConfiguration:
    """The media server's own ICE servers: configured STUN only, never aiortc's default."""
    from aiortc import RTCConfiguration, RTCIceServer

    stun = [url for url in settings.ice_servers if url.startswith("stun:")]
    return RTCConfiguration(iceServers=[RTCIceServer(urls=url) for url in stun[:1]])


class IceServers:
    """What a browser gets in ``RTCPeerConnection({iceServers})`` when it joins."""

    def __init__(self, settings: VideoSettings, turn: TurnProvider | None = None) -> None:
        self.settings = settings
        self.turn = turn

    async def for_join(self, ttl_seconds: int) -> list[dict[str, Any]]:
        servers: list[dict[str, Any]] = []
        stun = [u for u in self.settings.ice_servers if u.startswith(("stun:", "stuns:"))]
        turn = [u for u in self.settings.ice_servers if u.startswith(("turn:", "turns:"))]
        if stun:
            servers.append({"urls": stun})
        if turn:
            servers.append(
                {
                    "urls": turn,
                    "username": self.settings.turn_username,
                    "credential": self.settings.turn_credential,
                }
            )
        if self.turn is not None:
            try:
                servers += await self.turn.ice_servers(ttl_seconds)
            except Exception:
                # A join must not fail because TURN is down: host and STUN candidates often work.
                logger.exception("could not get TURN credentials; joining without them")
        return servers
