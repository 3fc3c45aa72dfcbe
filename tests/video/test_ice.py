"""ICE configuration: servers from settings, Twilio TURN per join, loopback-only media."""

from __future__ import annotations

import pytest
from aiortc import RTCPeerConnection

from marketplace.settings import ConfigError, Settings, VideoSettings
from tests.twilio_double import twilio_double
from tests.video.lessons import make_lesson
from tests.video.peers import RoomClient, no_ice_servers
from tests.video.server import LiveRoomServer
from video.ice import AddressPolicy, IceServers, server_configuration
from video.twilio_turn import TurnUnavailable, TwilioTurn


def test_ice_settings_are_read_and_checked() -> None:
    settings = Settings.from_env(
        {
            "ICE_SERVERS": "stun:stun.example.org:3478, turn:turn.example.org:3478?transport=udp",
            "TURN_USERNAME": "duet",
            "TURN_CREDENTIAL": "s3cret",
            "ROOM_MEDIA_ADDRESSES": "127.0.0.1",
        }
    )
    assert settings.video.ice_servers == (
        "stun:stun.example.org:3478",
        "turn:turn.example.org:3478?transport=udp",
    )
    assert settings.video.media_addresses == ("127.0.0.1",)
    for env, name in (
        ({"ICE_SERVERS": "http://stun.example.org"}, "ICE_SERVERS"),
        ({"ICE_SERVERS": "turn:turn.example.org"}, "TURN_USERNAME"),
        ({"ROOM_MEDIA_ADDRESSES": "eth0"}, "ROOM_MEDIA_ADDRESSES"),
        ({"ROOM_DEFAULT_BITRATE": "200"}, "ROOM_DEFAULT_BITRATE"),
        ({"ROOM_OPENS_MINUTES": "-1"}, "ROOM_OPENS_MINUTES"),
        ({"RECORDING_RETENTION_DAYS": "0"}, "RECORDING_RETENTION_DAYS"),
    ):
        with pytest.raises(ConfigError, match=name):
            Settings.from_env(env)


def test_the_media_server_never_uses_a_default_stun_server() -> None:
    # aiortc alone would use stun.l.google.com; with nothing configured we pass an empty list.
    assert server_configuration(VideoSettings()).iceServers == []
    configured = server_configuration(
        VideoSettings(ice_servers=("turn:t.example:3478", "stun:s.example:3478"))
    )
    assert [s.urls for s in configured.iceServers or []] == ["stun:s.example:3478"]


async def test_browsers_get_configured_servers_and_nothing_by_default() -> None:
    assert await IceServers(VideoSettings()).for_join(600) == []
    servers = await IceServers(
        VideoSettings(
            ice_servers=("stun:s.example:3478", "turns:t.example:5349"),
            turn_username="duet",
            turn_credential="pw",
        )
    ).for_join(600)
    assert servers == [
        {"urls": ["stun:s.example:3478"]},
        {"urls": ["turns:t.example:5349"], "username": "duet", "credential": "pw"},
    ]


async def test_twilio_turn_credentials_per_join_through_the_sdk() -> None:
    with twilio_double() as twilio:
        turn = TwilioTurn(twilio.account_sid, twilio.auth_token, api_base=twilio.url)
        servers = await IceServers(VideoSettings(), turn).for_join(5400)
        assert twilio.tokens == [{"ttl": 5400}]
        assert servers[0] == {"urls": "stun:global.stun.twilio.com:3478"}
        assert all(s["username"] and s["credential"] for s in servers[1:])
        assert await IceServers(VideoSettings(), turn).for_join(10**6) != []
        assert twilio.tokens[-1] == {"ttl": 86400}  # Twilio's maximum
        twilio.refuse_with = 401
        with pytest.raises(TurnUnavailable):
            await turn.ice_servers(600)
        # A join never fails because TURN is down.
        assert await IceServers(VideoSettings(), turn).for_join(600) == []


async def test_the_welcome_carries_twilio_turn_when_configured(
    room_server: LiveRoomServer, database_url: str
) -> None:
    lesson = await make_lesson(database_url)
    with twilio_double() as twilio:
        turn = TwilioTurn(twilio.account_sid, twilio.auth_token, api_base=twilio.url)
        room_server.registry.ice = IceServers(room_server.registry.settings.video, turn)
        client = RoomClient(room_server.url, lesson.booking_id, lesson.student)
        welcome = await client.connect()
        await client.close()
    assert welcome["ice_servers"][0]["urls"] == "stun:global.stun.twilio.com:3478"
    assert len(twilio.tokens) == 1 and twilio.tokens[0]["ttl"] > 60 * 60  # until after closing


def test_loopback_policy_refuses_other_addresses_and_mdns() -> None:
    policy = AddressPolicy(("127.0.0.1",))
    assert policy.loopback_only
    assert policy.allows_remote("127.0.0.1") and policy.allows_remote("::1")
    assert not policy.allows_remote("192.168.1.20") and not policy.allows_remote("10.0.0.5")
    assert not policy.allows_remote("4e1f6a3c-0b5d-4a43-9d1c-1b2c3d4e5f60.local")
    host = "candidate:1 1 udp 2122260223 {} 50000 typ host generation 0"
    assert policy.allows_candidate_line(host.format("127.0.0.1"))
    assert not policy.allows_candidate_line(host.format("172.17.0.3"))
    assert not policy.allows_candidate_line(
        "candidate:2 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active"
    )
    everywhere = AddressPolicy()
    assert not everywhere.loopback_only and everywhere.allows_remote("203.0.113.7")
    assert not everywhere.allows_remote("abc.local")  # never resolve mDNS from the server


async def test_loopback_policy_gathers_only_on_loopback_and_answers_only_loopback() -> None:
    pc = RTCPeerConnection(no_ice_servers())
    try:
        pc.addTransceiver("audio")
        connection = pc.getTransceivers()[0].receiver.transport.transport.iceGatherer._connection
        answered: list[str] = []
        connection.request_received = lambda message, addr, protocol: answered.append(addr[0])
        AddressPolicy(("127.0.0.1",)).apply(pc)
        await pc.setLocalDescription(await pc.createOffer())
        candidates = [
            line.split()[4]
            for line in pc.localDescription.sdp.splitlines()
            if line.startswith("a=candidate:")
        ]
        assert candidates and set(candidates) == {"127.0.0.1"}
        # A connectivity check from another address is never answered (nor paired).
        for address in ("192.168.1.20", "127.0.0.1", "10.1.2.3"):
            connection.request_received(object(), (address, 5000), None)
        assert answered == ["127.0.0.1"]
    finally:
        await pc.close()
