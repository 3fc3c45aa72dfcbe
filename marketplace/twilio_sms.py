"""SMS through Twilio: the only module that imports the ``twilio`` SDK."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from marketplace.notifications.sms import SmsError


class _RebasedHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """Sends every request to ``api_base`` instead of Twilio's hosts (tests' local double)."""

    def __init__(self, api_base: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.api_base = urlsplit(api_base)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(url)
        rebased = urlunsplit(
            (self.api_base.scheme, self.api_base.netloc, parts.path, parts.query, "")
        )
        return super().request(method, rebased, *args, **kwargs)


class TwilioSms:
    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        *,
        api_base: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        http = (
            _RebasedHttpClient(api_base, timeout) if api_base else TwilioHttpClient(timeout=timeout)
        )
        self.client = Client(account_sid, auth_token, http_client=http)
        self.from_number = from_number

    def send(self, to: str, body: str) -> str:
        sender = {"messaging_service_sid": self.from_number}
        if not self.from_number.startswith("MG"):
            sender = {"from_": self.from_number}
        try:
            message = self.client.messages.create(to=to, body=body, **sender)
        except TwilioException as exc:
            raise SmsError(f"Twilio refused the message: {exc}") from exc
        except OSError as exc:
            raise SmsError(f"Twilio could not be reached: {exc}") from exc
        return str(message.sid)
