"""Settings, read once from the environment into frozen dataclasses.

Nothing else in the code base reads ``os.environ``: ``Settings.from_env()`` is called by the CLI
and the result is passed into ``create_app(settings)`` and the worker.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names the variable to set."""


@dataclass(frozen=True)
class DatabaseSettings:
    url: str | None = None
    """``DATABASE_URL``: ``postgresql+asyncpg://...``. Unset: the embedded PostgreSQL under var/."""
    pool_size: int = 10
    """``DATABASE_POOL_SIZE``: connections per process."""
    echo: bool = False
    """``DATABASE_ECHO``: log every SQL statement (development only)."""


@dataclass(frozen=True)
class BrokerSettings:
    redis_url: str | None = None
    """``REDIS_URL``: dramatiq's broker and the rate-limit store. Unset: embedded Redis."""


@dataclass(frozen=True)
class WebSettings:
    secret_key: str = ""
    """``SECRET_KEY``: signs CSRF tokens. Required unless running on the embedded default."""
    base_url: str = "http://127.0.0.1:8000"
    """``BASE_URL``: the public address, used in links sent outside the browser."""
    secure_cookies: bool = False
    """``SECURE_COOKIES``: mark cookies Secure (set it behind HTTPS)."""
    session_days: int = 14
    """``SESSION_DAYS``: how long a page session lasts without activity."""
    login_attempts_per_window: int = 10
    """``LOGIN_RATE_LIMIT``: login attempts per IP and e-mail per 15 minutes."""
    registrations_per_window: int = 20
    """``REGISTER_RATE_LIMIT``: registrations per IP per hour."""


@dataclass(frozen=True)
class MarketplaceSettings:
    currency: str = "EUR"
    """``MARKETPLACE_CURRENCY``: ISO 4217 code every price is in."""
    platform_fee_bps: int = 1500
    """``PLATFORM_FEE_BPS``: the platform's fee in basis points (1500 = 15 %)."""


@dataclass(frozen=True)
class MediaSettings:
    root: Path = Path("var/media")
    """``MEDIA_ROOT``: where uploaded and generated media files are stored."""
    max_photo_bytes: int = 5 * 1024 * 1024
    """``MAX_PHOTO_BYTES``: largest accepted profile photo."""
    max_audio_bytes: int = 20 * 1024 * 1024
    """``MAX_AUDIO_BYTES``: largest accepted audio sample upload."""
    max_audio_seconds: float = 120.0
    """``MAX_AUDIO_SECONDS``: longest accepted audio sample."""


@dataclass(frozen=True)
class SchedulingSettings:
    dispute_window_hours: int = 72
    """``DISPUTE_WINDOW_HOURS``: after a lesson ends, how long a student may dispute it before
    it settles and the tutor is paid."""
    calendar_refresh_minutes: int = 60
    """``CALENDAR_REFRESH_MINUTES``: how often imported ICS URLs are fetched again."""
    calendar_fetch_timeout: float = 10.0
    """``CALENDAR_FETCH_TIMEOUT``: seconds to wait for an imported ICS URL."""
    calendar_max_bytes: int = 5 * 1024 * 1024
    """``CALENDAR_MAX_BYTES``: largest accepted ICS file or feed."""
    calendar_allow_private_hosts: bool = False
    """``CALENDAR_ALLOW_PRIVATE_HOSTS``: let imported ICS URLs point at private or loopback
    addresses (tests, intranets). Off: such URLs are refused, so users cannot probe our network."""


@dataclass(frozen=True)
class SmsSettings:
    twilio_account_sid: str = ""
    """``TWILIO_ACCOUNT_SID``: Twilio account. Unset (with the two below): SMS go to the outbox."""
    twilio_auth_token: str = ""
    """``TWILIO_AUTH_TOKEN``: Twilio auth token."""
    twilio_from_number: str = ""
    """``TWILIO_FROM_NUMBER``: the E.164 sender number (or messaging service SID)."""

    @property
    def uses_twilio(self) -> bool:
        return bool(self.twilio_account_sid)


@dataclass(frozen=True)
class MessagingSettings:
    sms_quiet_minutes: int = 60
    """``MESSAGE_SMS_QUIET_MINUTES``: an offline recipient gets at most one SMS per conversation
    in this many minutes (the in-app notification is always updated)."""
    max_message_chars: int = 4000
    """``MAX_MESSAGE_CHARS``: longest message text."""
    messages_per_minute: int = 30
    """``MESSAGE_RATE_LIMIT``: messages one user may send per minute."""
    new_conversations_per_day: int = 20
    """``NEW_CONVERSATION_RATE_LIMIT``: conversations one user may start per day."""
    private_root: Path = Path("var/private-media")
    """``PRIVATE_MEDIA_ROOT``: message attachments; never served as static files, only through
    the access-checked download endpoint."""
    max_attachment_bytes: int = 10 * 1024 * 1024
    """``MAX_ATTACHMENT_BYTES``: largest attachment (PDF score, image or short audio)."""
    max_attachment_audio_seconds: float = 300.0
    """``MAX_ATTACHMENT_AUDIO_SECONDS``: longest audio attachment."""


@dataclass(frozen=True)
class MeiliSettings:
    url: str | None = None
    """``MEILI_URL``: the Meilisearch server. Unset: search runs in PostgreSQL (the default)."""
    api_key: str = ""
    """``MEILI_API_KEY``: a Meilisearch API key; required when MEILI_URL is set."""


@dataclass(frozen=True)
class Settings:
    var_dir: Path = Path("var")
    """``DUET_VAR_DIR``: data of the embedded services, media and generated secrets."""
    debug: bool = False
    """``DEBUG``: tracebacks in error pages (never in production)."""
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    broker: BrokerSettings = field(default_factory=BrokerSettings)
    web: WebSettings = field(default_factory=WebSettings)
    marketplace: MarketplaceSettings = field(default_factory=MarketplaceSettings)
    media: MediaSettings = field(default_factory=MediaSettings)
    scheduling: SchedulingSettings = field(default_factory=SchedulingSettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    search: MeiliSettings = field(default_factory=MeiliSettings)
    messaging: MessagingSettings = field(default_factory=MessagingSettings)

    @property
    def embedded(self) -> bool:
        """True when Duet runs on its embedded default (no external database configured)."""
        return self.database.url is None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        var_dir = Path(env.get("DUET_VAR_DIR", "var"))
        database_url = _normalise_database_url(env.get("DATABASE_URL") or None)
        settings = cls(
            var_dir=var_dir,
            debug=_bool(env, "DEBUG", False),
            database=DatabaseSettings(
                url=database_url,
                pool_size=_int(env, "DATABASE_POOL_SIZE", 10),
                echo=_bool(env, "DATABASE_ECHO", False),
            ),
            broker=BrokerSettings(redis_url=env.get("REDIS_URL") or None),
            web=WebSettings(
                secret_key=env.get("SECRET_KEY", ""),
                base_url=env.get("BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
                secure_cookies=_bool(env, "SECURE_COOKIES", False),
                session_days=_int(env, "SESSION_DAYS", 14),
                login_attempts_per_window=_int(env, "LOGIN_RATE_LIMIT", 10),
                registrations_per_window=_int(env, "REGISTER_RATE_LIMIT", 20),
            ),
            marketplace=MarketplaceSettings(
                currency=_currency(env.get("MARKETPLACE_CURRENCY", "EUR")),
                platform_fee_bps=_int(env, "PLATFORM_FEE_BPS", 1500),
            ),
            media=MediaSettings(
                root=Path(env.get("MEDIA_ROOT", str(var_dir / "media"))),
                max_photo_bytes=_int(env, "MAX_PHOTO_BYTES", 5 * 1024 * 1024),
                max_audio_bytes=_int(env, "MAX_AUDIO_BYTES", 20 * 1024 * 1024),
                max_audio_seconds=float(env.get("MAX_AUDIO_SECONDS", "120")),
            ),
            scheduling=SchedulingSettings(
                dispute_window_hours=_int(env, "DISPUTE_WINDOW_HOURS", 72),
                calendar_refresh_minutes=_int(env, "CALENDAR_REFRESH_MINUTES", 60),
                calendar_fetch_timeout=float(env.get("CALENDAR_FETCH_TIMEOUT", "10")),
                calendar_max_bytes=_int(env, "CALENDAR_MAX_BYTES", 5 * 1024 * 1024),
                calendar_allow_private_hosts=_bool(env, "CALENDAR_ALLOW_PRIVATE_HOSTS", False),
            ),
            sms=_sms_settings(env),
            search=_meili_settings(env),
            messaging=MessagingSettings(
                sms_quiet_minutes=_int(env, "MESSAGE_SMS_QUIET_MINUTES", 60),
                max_message_chars=_int(env, "MAX_MESSAGE_CHARS", 4000),
                messages_per_minute=_int(env, "MESSAGE_RATE_LIMIT", 30),
                new_conversations_per_day=_int(env, "NEW_CONVERSATION_RATE_LIMIT", 20),
                private_root=Path(env.get("PRIVATE_MEDIA_ROOT", str(var_dir / "private-media"))),
                max_attachment_bytes=_int(env, "MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024),
                max_attachment_audio_seconds=float(env.get("MAX_ATTACHMENT_AUDIO_SECONDS", "300")),
            ),
        )
        if not 0 <= settings.marketplace.platform_fee_bps <= 10_000:
            raise ConfigError("PLATFORM_FEE_BPS must be between 0 and 10000 basis points.")
        return settings

    def with_embedded_secrets(self) -> Settings:
        """Fill secrets the embedded default may generate, or fail naming what to set.

        On the embedded default the CSRF secret is generated once and kept in
        ``var/secret_key`` (the start-up log says so). Anywhere else a missing secret is an error.
        """
        if self.web.secret_key:
            return self
        if not self.embedded:
            raise ConfigError(
                "SECRET_KEY is not set. Set SECRET_KEY to a long random string "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')."
            )
        key_file = self.var_dir / "secret_key"
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        return replace(self, web=replace(self.web, secret_key=key_file.read_text().strip()))


def _meili_settings(env: Mapping[str, str]) -> MeiliSettings:
    url = env.get("MEILI_URL", "").strip().rstrip("/") or None
    api_key = env.get("MEILI_API_KEY", "").strip()
    if url and not api_key:
        raise ConfigError(
            "MEILI_API_KEY is not set. Set it to a Meilisearch API key, or unset MEILI_URL to "
            "search with PostgreSQL."
        )
    return MeiliSettings(url=url, api_key=api_key)


_TWILIO_VARS = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER")


def _sms_settings(env: Mapping[str, str]) -> SmsSettings:
    """All three Twilio variables, or none (the outbox); a partial set names what is missing."""
    values = {name: env.get(name, "").strip() for name in _TWILIO_VARS}
    given = [name for name, value in values.items() if value]
    if given and len(given) < len(_TWILIO_VARS):
        missing = ", ".join(name for name in _TWILIO_VARS if not values[name])
        raise ConfigError(
            f"{missing} is not set. Set all of {', '.join(_TWILIO_VARS)} to send SMS through "
            "Twilio, or none of them to keep messages in the outbox."
        )
    return SmsSettings(
        twilio_account_sid=values["TWILIO_ACCOUNT_SID"],
        twilio_auth_token=values["TWILIO_AUTH_TOKEN"],
        twilio_from_number=values["TWILIO_FROM_NUMBER"],
    )


def _normalise_database_url(url: str | None) -> str | None:
    if url is None:
        return None
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if not url.startswith("postgresql+asyncpg://"):
        raise ConfigError("DATABASE_URL must be a PostgreSQL URL (postgresql://user@host/db).")
    return url


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}.")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}.") from None


def _currency(raw: str) -> str:
    code = raw.strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise ConfigError(
            f"MARKETPLACE_CURRENCY must be an ISO 4217 code such as EUR, not {raw!r}."
        )
    return code
