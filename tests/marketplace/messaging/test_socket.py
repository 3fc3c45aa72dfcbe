"""The messaging WebSocket in one app: access, live delivery, typing, receipts, catch-up."""

from __future__ import annotations

import json
from typing import Any

import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient
from litestar.testing.websocket_test_session import WebSocketTestSession

from tests.helpers import account
from tests.marketplace.messaging.helpers import conversation, send

WS = "/ws/messages"


def next_of(ws: WebSocketTestSession, kind: str, timeout: float = 5.0) -> dict[str, Any]:
    """The next event of ``kind`` (skipping others), or fail after ``timeout`` seconds."""
    for _ in range(50):
        event = json.loads(ws.receive_text(timeout=timeout))
        if event["type"] == kind:
            return event
    raise AssertionError(f"no {kind} event")


def test_anonymous_and_dead_tokens_are_refused(client: TestClient[Any]) -> None:
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect(WS):
        pass
    assert refused.value.code == 4401
    with (
        pytest.raises(WebSocketDisconnect) as dead,
        client.websocket_connect(WS, headers={"Authorization": "Bearer nope"}),
    ):
        pass
    assert dead.value.code == 4401


def test_a_socket_from_another_origin_is_refused(client: TestClient[Any]) -> None:
    headers = account(client, "student")
    evil = {**headers, "Origin": "https://evil.example"}
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect(WS, headers=evil):
        pass
    assert refused.value.code == 4403
    with client.websocket_connect(WS, headers={**headers, "Origin": "http://127.0.0.1:8000"}) as ws:
        assert next_of(ws, "hello")["unread_total"] == 0


def test_messages_typing_and_receipts_arrive_live(client: TestClient[Any]) -> None:
    cid, tutor_id, tutor, student_id, student = conversation(client)
    with (
        client.websocket_connect(WS, headers=tutor) as tutor_ws,
        client.websocket_connect(WS, headers=student) as student_ws,
    ):
        assert next_of(tutor_ws, "hello")["unread_total"] == 1
        next_of(student_ws, "hello")
        # Typing reaches the other side only.
        student_ws.send_text(json.dumps({"type": "typing", "conversation_id": cid}))
        typing = next_of(tutor_ws, "typing")
        assert typing["user_id"] == student_id and typing["conversation_id"] == cid
        # A message sent over HTTP reaches both sockets, with the recipient's new count.
        send(client, student, cid, "Is *Thursday* fine?")
        live = next_of(tutor_ws, "message")
        assert live["message"]["seq"] == 2
        assert live["message"]["html"] == "<p>Is <em>Thursday</em> fine?</p>"
        assert live["unread_total"] == 2  # the recipient's badge comes with the message
        own = next_of(student_ws, "message")
        assert own["message"]["seq"] == 2
        assert "unread_total" not in own  # the sender learns nothing about the other's inbox
        # The read receipt goes back, then a reply sent over the socket.
        tutor_ws.send_text(json.dumps({"type": "read", "conversation_id": cid, "seq": 2}))
        receipt = next_of(student_ws, "read")
        assert receipt == {"type": "read", "conversation_id": cid, "user_id": tutor_id, "seq": 2}
        assert next_of(tutor_ws, "unread")["total"] == 0
        tutor_ws.send_text(
            json.dumps({"type": "send", "conversation_id": cid, "body": "Yes!", "client_id": "t1"})
        )
        event = next_of(student_ws, "message")
        echoed = event["message"]
        assert echoed["sender_id"] == tutor_id and echoed["client_id"] == "t1"
        assert event["unread_total"] == 1


def test_catch_up_after_a_dropped_socket(client: TestClient[Any]) -> None:
    cid, _, tutor, _, student = conversation(client)
    with client.websocket_connect(WS, headers=tutor) as ws:
        next_of(ws, "hello")
        ws.send_text(json.dumps({"type": "sync", "conversation_id": cid, "after_seq": 0}))
        first = next_of(ws, "messages")
        assert [m["seq"] for m in first["items"]] == [1]
    # While the tutor's socket is gone, three messages are written.
    for i in range(3):
        send(client, student, cid, f"while you were away {i}")
    with client.websocket_connect(WS, headers=tutor) as ws:
        assert next_of(ws, "hello")["unread_total"] == 4
        ws.send_text(json.dumps({"type": "sync", "conversation_id": cid, "after_seq": 1}))
        caught = next_of(ws, "messages")
        assert [m["seq"] for m in caught["items"]] == [2, 3, 4]
        assert caught["more"] is False and caught["last_seq"] == 4


def test_bad_frames_get_error_frames_and_outsiders_get_nothing(client: TestClient[Any]) -> None:
    cid, _, tutor, _, _ = conversation(client)
    stranger = account(client, "student")
    with client.websocket_connect(WS, headers=stranger) as ws:
        next_of(ws, "hello")
        ws.send_text("not json")
        assert next_of(ws, "error")["code"] == "malformed_json"
        ws.send_text(json.dumps({"type": "dance"}))
        assert next_of(ws, "error")["code"] == "unknown_frame"
        ws.send_text(json.dumps({"type": "send", "conversation_id": "x", "body": "a"}))
        assert next_of(ws, "error")["code"] == "malformed_frame"
        for frame in [
            {"type": "sync", "conversation_id": cid, "after_seq": 0},
            {"type": "send", "conversation_id": cid, "body": "let me in", "client_id": "s1"},
            {"type": "typing", "conversation_id": cid},
            {"type": "read", "conversation_id": cid},
        ]:
            ws.send_text(json.dumps(frame))
            error = next_of(ws, "error")
            assert error["code"] == "conversation_not_found", frame
    with client.websocket_connect(WS, headers=tutor) as ws:
        next_of(ws, "hello")
        ws.send_text(
            json.dumps({"type": "send", "conversation_id": cid, "body": " ", "client_id": "e"})
        )
        error = next_of(ws, "error")
        assert error["code"] == "validation_failed" and error["client_id"] == "e"
    messages = client.get(f"/api/v1/conversations/{cid}/messages", headers=tutor).json()
    assert len(messages["items"]) == 1


def test_a_frame_flood_is_told_to_slow_down(client: TestClient[Any]) -> None:
    headers = account(client, "student")
    with client.websocket_connect(WS, headers=headers) as ws:
        next_of(ws, "hello")
        # 100 frames at once: however they fall across a second's edge, one second gets > 30.
        for _ in range(100):
            ws.send_text(json.dumps({"type": "ping"}))
        error = next_of(ws, "error")
        assert error["code"] == "slow_down" and error["retry_after"] == 1
