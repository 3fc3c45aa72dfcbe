"""The SMS port: a small Protocol, the outbox adapter (default) and the adapter factory.

``marketplace/twilio_sms.py`` is the only module that imports the Twilio SDK.
"""

from __future__ import annotations

import logging
from typing import Protocol

from marketplace.settings import SmsSettings

logger = logging.getLogger(__name__)


class SmsError(RuntimeError):
    """The provider refused or could not be reached; the message says why."""


class SmsSender(Protocol):
    name: str
    """Stored with each message: ``twilio`` or ``outbox``."""

    def send(self, to: str, body: str) -> str:
        """Send ``body`` to the E.164 number ``to``; returns the provider's message id."""
        ...


class OutboxSms:
    """Keeps messages in the ``sms_messages`` table (status ``outbox``) and logs that it did
    (never the text, which may be a code or a message's words, nor the whole number).

    The local default: nothing leaves the machine, and pages label it as a demo outbox.
    """

    name = "outbox"

    def send(self, to: str, body: str) -> str:
        logger.info("SMS outbox (not sent): %d characters to …%s", len(body), to[-2:])
        return ""


def build_sms_sender(settings: SmsSettings) -> SmsSender:
    if not settings.uses_twilio:
        return OutboxSms()
    from marketplace.twilio_sms import TwilioSms

    return TwilioSms(
        settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_from_number
    )
