"""Settings, read once from the environment into frozen dataclasses.

Nothing else in the code base reads ``os.environ``: ``Settings.from_env()`` is called by the CLI
and the result is passed into ``create_app(settings)`` and the worker.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import secrets
from collections.abc import Callable, Mapping
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
    secure_cookies: bool | None = None
    """``SECURE_COOKIES``: an override of ``cookies_secure``. Unset: cookies are Secure exactly
    when ``BASE_URL`` is https."""
    session_days: int = 14
    """``SESSION_DAYS``: how long a page session lasts without activity."""
    login_attempts_per_window: int = 10
    """``LOGIN_RATE_LIMIT``: failed log-ins per account (e-mail) per 15 minutes."""
    login_address_attempts_per_window: int = 100
    """``LOGIN_ADDRESS_RATE_LIMIT``: failed log-ins per client address per 15 minutes, whatever
    the account; high, because a school or office shares one address."""
    trusted_proxies: tuple[str, ...] = ()
    """``TRUSTED_PROXIES``: comma-separated addresses or networks (``10.0.0.0/8``) of the
    reverse proxies whose ``X-Forwarded-For``/``X-Forwarded-Proto`` are believed. Unset: none,
    the connecting address is the client."""
    registrations_per_window: int = 20
    """``REGISTER_RATE_LIMIT``: registrations per IP per hour."""

    @property
    def https(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def cookies_secure(self) -> bool:
        """Cookies carry ``Secure``: ``SECURE_COOKIES`` when set, else when BASE_URL is https."""
        return self.https if self.secure_cookies is None else self.secure_cookies


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
    link_seconds: int = 6 * 3600
    """``MEDIA_LINK_SECONDS``: how long a signed link to a private media file (course media,
    quiz audio) stays valid; long enough to watch a long video without reloading the page."""


@dataclass(frozen=True)
class SchedulingSettings:
    dispute_window_hours: int = 48
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
    room_opens_minutes: int = 10
    """``ROOM_OPENS_MINUTES``: the lesson room opens this many minutes before the lesson starts."""
    room_closes_minutes: int = 15
    """``ROOM_CLOSES_MINUTES``: the lesson room closes this many minutes after the lesson ends
    (unless the tutor ends the lesson first)."""
    room_admin_observe: bool = False
    """``ROOM_ADMIN_OBSERVE``: admins may join any open lesson room as silent observers (they
    receive both sides and send nothing). Off: only the lesson's tutor and student may join."""


@dataclass(frozen=True)
class ReviewSettings:
    window_days: int = 14
    """``REVIEW_WINDOW_DAYS``: how long after a completed lesson ends its student may review it."""
    edit_hours: int = 48
    """``REVIEW_EDIT_HOURS``: how long after writing a review its author may still change it."""


@dataclass(frozen=True)
class PaymentSettings:
    stripe_secret_key: str = ""
    """``STRIPE_SECRET_KEY``: the platform's Stripe secret key. Unset (with the two below): the
    demo gateway, which completes payments locally and says so on every page."""
    stripe_publishable_key: str = ""
    """``STRIPE_PUBLISHABLE_KEY``: the key the checkout page gives stripe.js."""
    stripe_webhook_secret: str = ""
    """``STRIPE_WEBHOOK_SECRET``: the signing secret of the webhook endpoint (``whsec_...``)."""
    stripe_api_base: str | None = None
    """``STRIPE_API_BASE``: another address for Stripe's API (stripe-mock, a local test double).
    Unset: Stripe itself."""
    stripe_timeout: float = 20.0
    """``STRIPE_TIMEOUT``: seconds to wait for one Stripe API answer."""
    hold_extension_minutes: int = 10
    """``PAYMENT_HOLD_EXTENSION_MINUTES``: how long a held lesson is kept while a payment is in
    progress (3-D Secure, a slow bank)."""

    @property
    def uses_stripe(self) -> bool:
        return bool(self.stripe_secret_key)


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


BITRATES_KBPS = (128, 192, 256, 320, 510)
"""The Opus bitrates a tutor may choose for a lesson room, in kbit/s."""


@dataclass(frozen=True)
class VideoSettings:
    default_bitrate_kbps: int = 192
    """``ROOM_DEFAULT_BITRATE``: the stereo Opus bitrate (kbit/s) of a lesson room until the tutor
    picks another: 128, 192, 256, 320 or 510."""
    recording_retention_days: int = 30
    """``RECORDING_RETENTION_DAYS``: lesson recordings are deleted this many days after the lesson.
    """
    recordings_root: Path = Path("var/recordings")
    """``RECORDINGS_ROOT``: where lesson recordings are written. Private: served only to the
    lesson's participants, never under /media."""
    ice_servers: tuple[str, ...] = ()
    """``ICE_SERVERS``: comma-separated STUN/TURN URLs (``stun:host:3478``,
    ``turn:host:3478?transport=udp``) given to browsers; STUN ones are also used by the media
    server. Unset (and no Twilio): host candidates only, and no STUN server is ever contacted."""
    turn_username: str = ""
    """``TURN_USERNAME``: username for the ``turn:``/``turns:`` URLs in ICE_SERVERS."""
    turn_credential: str = ""
    """``TURN_CREDENTIAL``: password for the ``turn:``/``turns:`` URLs in ICE_SERVERS."""
    media_addresses: tuple[str, ...] = ()
    """``ROOM_MEDIA_ADDRESSES``: comma-separated IP addresses the media server offers ICE host
    candidates on. Unset: every non-loopback interface. ``127.0.0.1`` keeps all media on this
    machine (the tests do this); the media server then also ignores candidates and checks from
    other addresses."""
    placement: str = "local"
    """``ROOM_PLACEMENT``: ``local`` keeps each lesson room in the web process of its first
    participant (one process, tests); ``media`` puts rooms on media processes (``duet media``,
    started by ``duet run``), placed and relayed through Redis (needs ``REDIS_URL``)."""
    media_capacity: int = 40
    """``MEDIA_ROOM_CAPACITY``: most rooms one media process holds; placement picks another
    process beyond it."""


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
class PrivacySettings:
    export_days: int = 7
    """``DATA_EXPORT_DAYS``: a user's data export can be downloaded for this many days, then its
    file is deleted."""
    message_retention_days: int = 0
    """``MESSAGE_RETENTION_DAYS``: conversation messages (and their attachments) older than this
    are deleted by the ``privacy.purge`` job. 0 (the default): kept."""
    notification_retention_days: int = 0
    """``NOTIFICATION_RETENTION_DAYS``: in-app notifications and the SMS log (sent texts and the
    outbox) older than this are deleted. 0 (the default): kept."""
    webhook_retention_days: int = 0
    """``WEBHOOK_RETENTION_DAYS``: processed payment-provider events (their payloads name
    customers) older than this are deleted; at least 30, so a late retry is still recognised.
    0 (the default): kept."""

    @property
    def purges_anything(self) -> bool:
        return bool(
            self.message_retention_days
            or self.notification_retention_days
            or self.webhook_retention_days
        )


@dataclass(frozen=True)
class MeiliSettings:
    url: str | None = None
    """``MEILI_URL``: the Meilisearch server. Unset: search runs in PostgreSQL (the default)."""
    api_key: str = ""
    """``MEILI_API_KEY``: a Meilisearch API key; required when MEILI_URL is set."""


@dataclass(frozen=True)
class CourseSettings:
    max_audio_bytes: int = 200 * 1024 * 1024
    """``COURSE_MAX_AUDIO_BYTES``: largest audio lesson upload."""
    max_audio_seconds: float = 3 * 3600.0
    """``COURSE_MAX_AUDIO_SECONDS``: longest audio lesson."""
    max_video_bytes: int = 2 * 1024 * 1024 * 1024
    """``COURSE_MAX_VIDEO_BYTES``: largest video lesson upload."""
    max_video_seconds: float = 3 * 3600.0
    """``COURSE_MAX_VIDEO_SECONDS``: longest video lesson."""
    max_file_bytes: int = 30 * 1024 * 1024
    """``COURSE_MAX_FILE_BYTES``: largest sheet-music PDF (course downloads, lesson files)."""
    hls_min_seconds: float = 600.0
    """``COURSE_HLS_MIN_SECONDS``: videos at least this long also get an HLS playlist."""
    refund_days: int = 14
    """``COURSE_REFUND_DAYS``: how long after buying a course its student may ask for a refund;
    the tutor's share is transferred when this window ends."""
    refund_max_progress: int = 20
    """``COURSE_REFUND_MAX_PROGRESS``: a course is refundable on request only while the
    student has completed less than this percentage of it (and has no certificate)."""
    discussion_posts_per_minute: int = 10
    """``DISCUSSION_POST_RATE_LIMIT``: course discussion posts (threads and replies) one user
    may write per minute."""
    discussion_threads_per_day: int = 20
    """``DISCUSSION_THREAD_RATE_LIMIT``: course discussion threads one user may start per day."""
    discussion_max_chars: int = 8000
    """``DISCUSSION_MAX_CHARS``: longest discussion post."""
    signing_key: str = ""
    """``CERTIFICATE_SIGNING_KEY``: the Ed25519 private key (32 bytes, base64url) that signs
    Open Badges credentials. Required unless running on the embedded default."""


LOG_FORMATS = ("json", "text")


@dataclass(frozen=True)
class ObservabilitySettings:
    log_format: str = ""
    """``LOG_FORMAT``: ``json`` (one JSON object per line) or ``text`` (readable lines). Unset:
    text when standard error is a terminal, JSON otherwise (a service manager, a container)."""
    log_level: str = "INFO"
    """``LOG_LEVEL``: the lowest level logged (``DEBUG``, ``INFO``, ``WARNING``, ``ERROR``)."""
    metrics_token: str = ""
    """``METRICS_TOKEN``: the bearer token a Prometheus scraper sends to ``GET /metrics`` (at
    least 16 characters). Unset: there is no ``/metrics`` (404)."""
    metrics_dir: Path | None = None
    """``PROMETHEUS_MULTIPROC_DIR``: where the web, worker and media processes of one host keep
    their metric files, so one scrape sums them. Unset: ``duet run`` and ``duet web``/``worker``
    use ``<DUET_VAR_DIR>/metrics``."""
    otlp_endpoint: str = ""
    """``OTEL_EXPORTER_OTLP_ENDPOINT``: an OTLP/HTTP collector (``http://collector:4318``) to send
    traces to. Unset: no tracing at all (nothing of OpenTelemetry is even imported). The other
    ``OTEL_EXPORTER_OTLP_*`` variables (headers, timeout) are read by the exporter itself."""
    service_name: str = "duet"
    """``OTEL_SERVICE_NAME``: the service name traces carry; each process adds its role
    (``duet-web``, ``duet-worker``)."""

    @property
    def tracing(self) -> bool:
        return bool(self.otlp_endpoint)


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
    reviews: ReviewSettings = field(default_factory=ReviewSettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    search: MeiliSettings = field(default_factory=MeiliSettings)
    payments: PaymentSettings = field(default_factory=PaymentSettings)
    courses: CourseSettings = field(default_factory=CourseSettings)
    video: VideoSettings = field(default_factory=VideoSettings)
    messaging: MessagingSettings = field(default_factory=MessagingSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    observability: ObservabilitySettings = field(default_factory=ObservabilitySettings)

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
                secure_cookies=_optional_bool(env, "SECURE_COOKIES"),
                session_days=_int(env, "SESSION_DAYS", 14),
                login_attempts_per_window=_int(env, "LOGIN_RATE_LIMIT", 10),
                login_address_attempts_per_window=_int(env, "LOGIN_ADDRESS_RATE_LIMIT", 100),
                trusted_proxies=_trusted_proxies(env),
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
                link_seconds=_int(env, "MEDIA_LINK_SECONDS", 6 * 3600),
            ),
            scheduling=SchedulingSettings(
                dispute_window_hours=_int(env, "DISPUTE_WINDOW_HOURS", 48),
                calendar_refresh_minutes=_int(env, "CALENDAR_REFRESH_MINUTES", 60),
                calendar_fetch_timeout=float(env.get("CALENDAR_FETCH_TIMEOUT", "10")),
                calendar_max_bytes=_int(env, "CALENDAR_MAX_BYTES", 5 * 1024 * 1024),
                calendar_allow_private_hosts=_bool(env, "CALENDAR_ALLOW_PRIVATE_HOSTS", False),
                room_opens_minutes=_int(env, "ROOM_OPENS_MINUTES", 10),
                room_closes_minutes=_int(env, "ROOM_CLOSES_MINUTES", 15),
                room_admin_observe=_bool(env, "ROOM_ADMIN_OBSERVE", False),
            ),
            reviews=ReviewSettings(
                window_days=_int(env, "REVIEW_WINDOW_DAYS", 14),
                edit_hours=_int(env, "REVIEW_EDIT_HOURS", 48),
            ),
            sms=_sms_settings(env),
            search=_meili_settings(env),
            payments=_payment_settings(env),
            courses=CourseSettings(
                max_audio_bytes=_int(env, "COURSE_MAX_AUDIO_BYTES", 200 * 1024 * 1024),
                max_audio_seconds=float(env.get("COURSE_MAX_AUDIO_SECONDS") or 3 * 3600),
                max_video_bytes=_int(env, "COURSE_MAX_VIDEO_BYTES", 2 * 1024 * 1024 * 1024),
                max_video_seconds=float(env.get("COURSE_MAX_VIDEO_SECONDS") or 3 * 3600),
                max_file_bytes=_int(env, "COURSE_MAX_FILE_BYTES", 30 * 1024 * 1024),
                hls_min_seconds=float(env.get("COURSE_HLS_MIN_SECONDS") or 600),
                refund_days=_int(env, "COURSE_REFUND_DAYS", 14),
                refund_max_progress=_int(env, "COURSE_REFUND_MAX_PROGRESS", 20),
                discussion_posts_per_minute=_int(env, "DISCUSSION_POST_RATE_LIMIT", 10),
                discussion_threads_per_day=_int(env, "DISCUSSION_THREAD_RATE_LIMIT", 20),
                discussion_max_chars=_int(env, "DISCUSSION_MAX_CHARS", 8000),
                signing_key=env.get("CERTIFICATE_SIGNING_KEY", "").strip(),
            ),
            video=_video_settings(env, var_dir),
            messaging=MessagingSettings(
                sms_quiet_minutes=_int(env, "MESSAGE_SMS_QUIET_MINUTES", 60),
                max_message_chars=_int(env, "MAX_MESSAGE_CHARS", 4000),
                messages_per_minute=_int(env, "MESSAGE_RATE_LIMIT", 30),
                new_conversations_per_day=_int(env, "NEW_CONVERSATION_RATE_LIMIT", 20),
                private_root=Path(env.get("PRIVATE_MEDIA_ROOT", str(var_dir / "private-media"))),
                max_attachment_bytes=_int(env, "MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024),
                max_attachment_audio_seconds=float(env.get("MAX_ATTACHMENT_AUDIO_SECONDS", "300")),
            ),
            privacy=_privacy_settings(env),
            observability=_observability_settings(env),
        )
        if settings.reviews.window_days < 1 or settings.reviews.edit_hours < 0:
            raise ConfigError(
                "REVIEW_WINDOW_DAYS must be at least 1 and REVIEW_EDIT_HOURS at least 0."
            )
        if not 60 <= settings.media.link_seconds <= 7 * 24 * 3600:
            raise ConfigError("MEDIA_LINK_SECONDS must be between 60 seconds and 7 days.")
        if not 0 <= settings.courses.refund_days <= 365:
            raise ConfigError("COURSE_REFUND_DAYS must be between 0 and 365.")
        if not 0 <= settings.courses.refund_max_progress <= 100:
            raise ConfigError("COURSE_REFUND_MAX_PROGRESS must be between 0 and 100 percent.")
        if not 0 <= settings.marketplace.platform_fee_bps <= 10_000:
            raise ConfigError("PLATFORM_FEE_BPS must be between 0 and 10000 basis points.")
        for name, minutes in (
            ("ROOM_OPENS_MINUTES", settings.scheduling.room_opens_minutes),
            ("ROOM_CLOSES_MINUTES", settings.scheduling.room_closes_minutes),
        ):
            if not 0 <= minutes <= 240:
                raise ConfigError(f"{name} must be between 0 and 240 minutes.")
        return settings

    def with_embedded_secrets(self) -> Settings:
        """Fill secrets the embedded default may generate, or fail naming what to set.

        On the embedded default the CSRF secret is generated once and kept in
        ``var/secret_key`` (the start-up log says so), and the certificate signing key in
        ``var/certificate_signing_key``. Anywhere else a missing secret is an error.
        """
        settings = self
        if not settings.web.secret_key:
            if not settings.embedded:
                raise ConfigError(
                    "SECRET_KEY is not set. Set SECRET_KEY to a long random string "
                    "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')."
                )
            secret = _generated_once(
                settings.var_dir / "secret_key", lambda: secrets.token_urlsafe(48)
            )
            settings = replace(settings, web=replace(settings.web, secret_key=secret))
        return settings._with_signing_key()

    def _with_signing_key(self) -> Settings:
        if self.courses.signing_key:
            return self
        if not self.embedded:
            raise ConfigError(
                "CERTIFICATE_SIGNING_KEY is not set. Set it to an Ed25519 key, 32 random bytes in "
                "base64url (for example: python -c 'import base64, secrets; "
                "print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())')."
            )
        key = _generated_once(
            self.var_dir / "certificate_signing_key",
            lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        )
        return replace(self, courses=replace(self.courses, signing_key=key))


def _generated_once(path: Path, make: Callable[[], str]) -> str:
    """A secret kept in ``path`` (mode 600), made on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def _meili_settings(env: Mapping[str, str]) -> MeiliSettings:
    url = env.get("MEILI_URL", "").strip().rstrip("/") or None
    api_key = env.get("MEILI_API_KEY", "").strip()
    if url and not api_key:
        raise ConfigError(
            "MEILI_API_KEY is not set. Set it to a Meilisearch API key, or unset MEILI_URL to "
            "search with PostgreSQL."
        )
    return MeiliSettings(url=url, api_key=api_key)


_STRIPE_VARS = ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET")


def _payment_settings(env: Mapping[str, str]) -> PaymentSettings:
    """All three Stripe keys, or none (the demo gateway); a partial set names what is missing."""
    values = {name: env.get(name, "").strip() for name in _STRIPE_VARS}
    given = [name for name, value in values.items() if value]
    if given and len(given) < len(_STRIPE_VARS):
        missing = ", ".join(name for name in _STRIPE_VARS if not values[name])
        raise ConfigError(
            f"{missing} is not set. Set all of {', '.join(_STRIPE_VARS)} to take payments "
            "through Stripe, or none of them to use the demo gateway."
        )
    timeout = float(env.get("STRIPE_TIMEOUT") or "20")
    if not 0 < timeout <= 120:
        raise ConfigError("STRIPE_TIMEOUT must be between 0 and 120 seconds.")
    extension = _int(env, "PAYMENT_HOLD_EXTENSION_MINUTES", 10)
    if not 1 <= extension <= 60:
        raise ConfigError("PAYMENT_HOLD_EXTENSION_MINUTES must be between 1 and 60.")
    return PaymentSettings(
        stripe_secret_key=values["STRIPE_SECRET_KEY"],
        stripe_publishable_key=values["STRIPE_PUBLISHABLE_KEY"],
        stripe_webhook_secret=values["STRIPE_WEBHOOK_SECRET"],
        stripe_api_base=(env.get("STRIPE_API_BASE") or "").strip().rstrip("/") or None,
        stripe_timeout=timeout,
        hold_extension_minutes=extension,
    )


def _video_settings(env: Mapping[str, str], var_dir: Path) -> VideoSettings:
    bitrate = _int(env, "ROOM_DEFAULT_BITRATE", 192)
    if bitrate not in BITRATES_KBPS:
        choices = ", ".join(map(str, BITRATES_KBPS))
        raise ConfigError(f"ROOM_DEFAULT_BITRATE must be one of {choices} (kbit/s), not {bitrate}.")
    urls = tuple(u.strip() for u in env.get("ICE_SERVERS", "").split(",") if u.strip())
    for url in urls:
        if not url.startswith(("stun:", "stuns:", "turn:", "turns:")):
            raise ConfigError(
                f"ICE_SERVERS must be stun:, stuns:, turn: or turns: URLs; {url!r} is not."
            )
    turn_user, turn_pass = env.get("TURN_USERNAME", ""), env.get("TURN_CREDENTIAL", "")
    if any(u.startswith("turn") for u in urls) and not (turn_user and turn_pass):
        raise ConfigError("ICE_SERVERS has a TURN URL: set TURN_USERNAME and TURN_CREDENTIAL.")
    addresses = tuple(
        a.strip() for a in env.get("ROOM_MEDIA_ADDRESSES", "").split(",") if a.strip()
    )
    for address in addresses:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise ConfigError(
                f"ROOM_MEDIA_ADDRESSES must list IP addresses; {address!r} is not one."
            ) from None
    retention = _int(env, "RECORDING_RETENTION_DAYS", 30)
    if retention < 1:
        raise ConfigError("RECORDING_RETENTION_DAYS must be at least 1.")
    placement = env.get("ROOM_PLACEMENT", "local").strip().lower() or "local"
    if placement not in ("local", "media"):
        raise ConfigError(f"ROOM_PLACEMENT must be local or media, not {placement!r}.")
    capacity = _int(env, "MEDIA_ROOM_CAPACITY", 40)
    if not 1 <= capacity <= 1000:
        raise ConfigError("MEDIA_ROOM_CAPACITY must be between 1 and 1000 rooms.")
    return VideoSettings(
        default_bitrate_kbps=bitrate,
        recording_retention_days=retention,
        recordings_root=Path(env.get("RECORDINGS_ROOT", str(var_dir / "recordings"))),
        ice_servers=urls,
        turn_username=turn_user,
        turn_credential=turn_pass,
        media_addresses=addresses,
        placement=placement,
        media_capacity=capacity,
    )


def _observability_settings(env: Mapping[str, str]) -> ObservabilitySettings:
    log_format = env.get("LOG_FORMAT", "").strip().lower()
    if log_format and log_format not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT must be json or text, not {log_format!r}.")
    level = env.get("LOG_LEVEL", "").strip().upper() or "INFO"
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {level!r}.")
    token = env.get("METRICS_TOKEN", "").strip()
    if token and len(token) < 16:
        raise ConfigError(
            "METRICS_TOKEN must be at least 16 characters (for example: python -c "
            "'import secrets; print(secrets.token_urlsafe(32))'), or unset to turn /metrics off."
        )
    metrics_dir = env.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    return ObservabilitySettings(
        log_format=log_format,
        log_level=level,
        metrics_token=token,
        metrics_dir=Path(metrics_dir) if metrics_dir else None,
        otlp_endpoint=env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip(),
        service_name=env.get("OTEL_SERVICE_NAME", "").strip() or "duet",
    )


_TWILIO_VARS = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER")


def _privacy_settings(env: Mapping[str, str]) -> PrivacySettings:
    privacy = PrivacySettings(
        export_days=_int(env, "DATA_EXPORT_DAYS", 7),
        message_retention_days=_int(env, "MESSAGE_RETENTION_DAYS", 0),
        notification_retention_days=_int(env, "NOTIFICATION_RETENTION_DAYS", 0),
        webhook_retention_days=_int(env, "WEBHOOK_RETENTION_DAYS", 0),
    )
    if not 1 <= privacy.export_days <= 90:
        raise ConfigError("DATA_EXPORT_DAYS must be between 1 and 90.")
    for name, days in (
        ("MESSAGE_RETENTION_DAYS", privacy.message_retention_days),
        ("NOTIFICATION_RETENTION_DAYS", privacy.notification_retention_days),
    ):
        if days < 0:
            raise ConfigError(f"{name} must be 0 (keep) or a number of days.")
    if privacy.webhook_retention_days and privacy.webhook_retention_days < 30:
        raise ConfigError("WEBHOOK_RETENTION_DAYS must be 0 (keep) or at least 30 days.")
    return privacy


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


def _optional_bool(env: Mapping[str, str], name: str) -> bool | None:
    return None if env.get(name) in (None, "") else _bool(env, name, False)


def _trusted_proxies(env: Mapping[str, str]) -> tuple[str, ...]:
    entries = tuple(e.strip() for e in env.get("TRUSTED_PROXIES", "").split(",") if e.strip())
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigError(
                f"TRUSTED_PROXIES must list IP addresses or networks (10.0.0.0/8); "
                f"{entry!r} is not one."
            ) from None
    return entries


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
