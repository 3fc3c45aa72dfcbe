"""TURN credentials from Twilio's Network Traversal Service, one token per join.

The only module of the video package that imports the ``twilio`` SDK. Configured by the same
``TWILIO_ACCOUNT_SID`` and ``TWILIO_AUTH_TOKEN`` as SMS; each join creates a token that lives
until a little after the room closes (Twilio allows at most 24 hours), so no long-lived TURN
secret ever reaches a browser.
"""

from __future__ import annotations

import asyncio
from typing import Any

from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from marketplace.settings import Settings

# The SMS adapter's client that sends every request to another base URL (tests' local double).
from marketplace.twilio_sms import _RebasedHttpClient

MAX_TTL = 24 * 60 * 60


class TurnUnavailable(RuntimeError):
    pass


class TwilioTurn:
    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        api_base: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        http = (
            _RebasedHttpClient(api_base, timeout) if api_base else TwilioHttpClient(timeout=timeout)
        )
        self.client = Client(account_sid, auth_token, http_client=http)

    async def ice_servers(self, ttl_seconds: int) -> list[dict[str, Any]]:
        ttl = max(60, min(MAX_TTL, ttl_seconds))
        try:
            # The SDK's HTTP client blocks: keep it off the event loop.
            token = await asyncio.to_thread(self.client.tokens.create, ttl=ttl)
        except TwilioException as exc:
            raise TurnUnavailable(f"Twilio refused a TURN token: {exc}") from exc
        except OSError as exc:
            raise TurnUnavailable(f"Twilio could not be reached: {exc}") from exc
        servers: list[dict[str, Any]] = []
        for server in token.ice_servers or []:
            if not isinstance(server, dict):
                continue
            entry: dict[str, Any] = {"urls": server.get("urls") or server.get("url")}
            if server.get("username"):
                entry["username"] = server["username"]
                entry["credential"] = server.get("credential", "")
            if entry["urls"]:
                servers.append(entry)
        return servers


def from_settings(settings: Settings) -> TwilioTurn | None:
    if not settings.sms.uses_twilio:
        return None
    return TwilioTurn(settings.sms.twilio_account_sid, settings.sms.twilio_auth_token)
