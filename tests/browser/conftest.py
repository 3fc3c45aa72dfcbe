"""A real Duet server on loopback and a real headless Chromium to drive it.

Every browser context is opened through ``csp_watch`` (``browser_page`` does it; a test that
opens its own context calls ``csp_watch.new_context(browser, ...)``): a Content-Security-Policy
violation on any page a test visits fails that test."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from marketplace.app import create_app
from marketplace.settings import Settings
from marketplace.tasks import DramatiqQueue

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path("test-artifacts")
# Runs in every page before its own scripts; Chromium fires the event for each blocked script,
# style, frame, connection or form target, and for each refused inline handler.
_REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.error("CSP violation: " + e.effectiveDirective + " refused " + (e.blockedURI || "?")
    + " in " + (e.sourceFile || document.location.href) + ":" + e.lineNumber
    + (e.sample ? " (" + e.sample + ")" : ""));
}, true);
"""


class CspWatch:
    """Collects CSP violations from every context it opened; the test fails if there are any."""

    def __init__(self) -> None:
        self.violations: list[str] = []

    def new_context(self, browser: Any, **options: Any) -> Any:
        context = browser.new_context(**options)
        context.add_init_script(script=_REPORT_VIOLATIONS)
        context.on("console", self._on_console)
        return context

    def _on_console(self, message: Any) -> None:
        text = message.text
        # Chromium's own console line for the same event, in case the page's listener missed it.
        if text.startswith("CSP violation") or (
            text.startswith("Refused to") and "Content Security Policy" in text
        ):
            where = message.page.url if message.page else "?"
            self.violations.append(f"{where}: {text}")


@pytest.fixture(autouse=True)
def csp_watch() -> Iterator[CspWatch]:
    watch = CspWatch()
    yield watch
    if watch.violations:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(watch.violations))


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = "Chromium is not installed (apt-get install chromium)"
        if os.environ.get("DUET_REQUIRE_BROWSER"):
            pytest.fail(message + "; DUET_REQUIRE_BROWSER is set, so browser tests must run")
        pytest.skip(message)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_server(settings: Settings, queue: DramatiqQueue) -> Iterator[str]:
    port = _free_port()
    app = create_app(settings, queue=queue)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)


@pytest.fixture
def browser_page(request: pytest.FixtureRequest, csp_watch: CspWatch) -> Iterator[Any]:
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        context = csp_watch.new_context(browser, viewport={"width": 390, "height": 844})  # phone
        page = context.new_page()
        page.set_default_timeout(15_000)
        try:
            yield page
        finally:
            if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
            context.close()
            browser.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)
