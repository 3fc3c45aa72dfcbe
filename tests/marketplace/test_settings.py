from __future__ import annotations

from pathlib import Path

import pytest

from marketplace.settings import ConfigError, Settings


def test_defaults_are_the_embedded_default() -> None:
    settings = Settings.from_env({})
    assert settings.embedded
    assert settings.database.url is None and settings.broker.redis_url is None
    assert settings.marketplace.currency == "EUR"


def test_production_requires_secret_key() -> None:
    settings = Settings.from_env({"DATABASE_URL": "postgresql://duet@db/duet"})
    assert settings.database.url == "postgresql+asyncpg://duet@db/duet"
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        settings.with_embedded_secrets()


def test_embedded_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    settings = Settings.from_env({"DUET_VAR_DIR": str(tmp_path)})
    first = settings.with_embedded_secrets().web.secret_key
    second = Settings.from_env({"DUET_VAR_DIR": str(tmp_path)}).with_embedded_secrets()
    assert first and first == second.web.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"MARKETPLACE_CURRENCY": "EURO"}, "MARKETPLACE_CURRENCY"),
        ({"PLATFORM_FEE_BPS": "lots"}, "PLATFORM_FEE_BPS"),
        ({"PLATFORM_FEE_BPS": "20000"}, "PLATFORM_FEE_BPS"),
        ({"SECURE_COOKIES": "maybe"}, "SECURE_COOKIES"),
        ({"TRUSTED_PROXIES": "10.0.0.1, proxy.example"}, "TRUSTED_PROXIES"),
        ({"COURSE_REFUND_DAYS": "400"}, "COURSE_REFUND_DAYS"),
        ({"COURSE_REFUND_DAYS": "soon"}, "COURSE_REFUND_DAYS"),
        ({"COURSE_REFUND_MAX_PROGRESS": "120"}, "COURSE_REFUND_MAX_PROGRESS"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        Settings.from_env(env)


def test_course_refund_window_and_limit() -> None:
    defaults = Settings.from_env({}).courses
    assert (defaults.refund_days, defaults.refund_max_progress) == (14, 20)
    chosen = Settings.from_env({"COURSE_REFUND_DAYS": "0", "COURSE_REFUND_MAX_PROGRESS": "5"})
    assert (chosen.courses.refund_days, chosen.courses.refund_max_progress) == (0, 5)
