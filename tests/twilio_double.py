"""A local HTTP double of the part of Twilio's REST API Duet uses (sending a message)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class TwilioDouble:
    url: str
    account_sid: str
    auth_token: str
    messages: list[dict[str, str]] = field(default_factory=list)
    refuse_with: int | None = None  # answer with this status and a Twilio error body


@contextmanager
def twilio_double(
    account_sid: str = "AC" + "0" * 32,
    auth_token: str = "secret",  # noqa: S107 - the double's own
) -> Iterator[TwilioDouble]:
    state = TwilioDouble("", account_sid, auth_token)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            expected = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {expected}":
                return self._json(401, {"code": 20003, "message": "Authenticate", "status": 401})
            if self.path != f"/2010-04-01/Accounts/{account_sid}/Messages.json":
                return self._json(404, {"code": 20404, "message": "Not found", "status": 404})
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if state.refuse_with:
                return self._json(
                    state.refuse_with,
                    {
                        "code": 21211,
                        "message": "The 'To' number is not valid.",
                        "status": state.refuse_with,
                    },
                )
            sid = f"SM{len(state.messages):032d}"
            state.messages.append(form)
            self._json(
                201,
                {
                    "sid": sid,
                    "status": "queued",
                    "to": form.get("To"),
                    "body": form.get("Body"),
                    "from": form.get("From"),
                    "account_sid": account_sid,
                },
            )

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
