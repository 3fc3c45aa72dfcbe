"""A local HTTP double of the parts of Twilio's REST API Duet uses: sending a message, and
Network Traversal Service tokens (TURN credentials)."""

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
    tokens: list[dict[str, int]] = field(default_factory=list)  # Network Traversal tokens made
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
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if self.path == f"/2010-04-01/Accounts/{account_sid}/Tokens.json":
                return self._token(form)
            if self.path != f"/2010-04-01/Accounts/{account_sid}/Messages.json":
                return self._json(404, {"code": 20404, "message": "Not found", "status": 404})
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

        def _token(self, form: dict[str, str]) -> None:
            """Network Traversal Service: short-lived STUN/TURN credentials."""
            ttl = int(form.get("Ttl", "86400"))
            if state.refuse_with:
                return self._json(
                    state.refuse_with,
                    {"code": 20003, "message": "Permission denied", "status": state.refuse_with},
                )
            n = len(state.tokens)
            username, password = f"user{n:04d}{'a' * 56}", f"pass{n:04d}"
            state.tokens.append({"ttl": ttl})
            turn = [f"turn:global.turn.twilio.com:3478?transport={t}" for t in ("udp", "tcp")]
            servers: list[dict[str, str]] = [
                {
                    "url": "stun:global.stun.twilio.com:3478",
                    "urls": "stun:global.stun.twilio.com:3478",
                }
            ]
            servers += [
                {"url": url, "urls": url, "username": username, "credential": password}
                for url in turn
            ]
            self._json(
                201,
                {
                    "account_sid": account_sid,
                    "ttl": str(ttl),
                    "username": username,
                    "password": password,
                    "ice_servers": servers,
                    "date_created": "Wed, 02 Dec 2026 12:00:00 +0000",
                    "date_updated": "Wed, 02 Dec 2026 12:00:00 +0000",
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
