"""What web and media processes say to each other over Redis pub/sub (JSON, one per message).

Web → media (``directory.media_channel``): ``join`` {conn, web, pass, name, caller},
``msg`` {conn, m} (a browser message, already checked by ``session.MessageGate``), ``leave``
{conn}, ``alive`` {conns} (every second, for the participants this web process still serves),
``close`` {booking, reason} (the lesson ended or was cancelled elsewhere).

Media → web (``directory.web_channel``): ``reply`` {conn, outcome, holder} (to a join),
``send`` {conn, m} (a message for the browser), ``close`` {conn, code, reason}.

Pub/sub delivers at most once. Nothing here needs more: a message lost with a dying process is
replaced by the re-join that follows it (the browser builds a new peer connection from the new
``welcome``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from scheduling.rooms import RoomPass, RoomRole
from scheduling.service import Caller

# A ``close`` with this code tells the web process to place its participant again (the room
# left its media process), not to close the browser's socket.
MOVED_CODE = 4503

_TIMES = ("starts_at", "ends_at", "opens_at", "closes_at")


def pass_to_json(room_pass: RoomPass) -> dict[str, Any]:
    return {
        "booking_id": room_pass.booking_id,
        "user_id": room_pass.user_id,
        "role": room_pass.role.value,
        "tutor_id": room_pass.tutor_id,
        "student_id": room_pass.student_id,
        **{name: getattr(room_pass, name).isoformat() for name in _TIMES},
    }


def pass_from_json(data: dict[str, Any]) -> RoomPass:
    return RoomPass(
        booking_id=int(data["booking_id"]),
        user_id=int(data["user_id"]),
        role=RoomRole(data["role"]),
        tutor_id=int(data["tutor_id"]),
        student_id=int(data["student_id"]),
        **{name: datetime.fromisoformat(data[name]) for name in _TIMES},
    )


def caller_to_json(caller: Caller) -> dict[str, Any]:
    return {"id": caller.id, "is_admin": caller.is_admin}


def caller_from_json(data: dict[str, Any]) -> Caller:
    return Caller(int(data["id"]), bool(data["is_admin"]))
