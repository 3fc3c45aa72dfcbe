"""Security headers on every HTTP response: pages, API, static and media files, error pages.

The Content-Security-Policy is strict: scripts only from our own origin (plus Stripe.js when
Stripe is configured), no inline script or event-handler attribute, no style attribute, no
plugins, no framing. A page that really needs an inline ``<script>`` asks for a nonce in its
template (``<script nonce="{{ csp_nonce() }}">``); the nonce is made once per request and added
to that response's policy only, so pages that ask for none allow no inline script at all.
See "Security headers" in docs/architecture.md.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any, cast

from jinja2 import pass_context
from jinja2.runtime import Context
from litestar.types import Message, Scope

from marketplace.settings import Settings

_NONCE_KEY = "duet_csp_nonce"

# Stripe.js and its frames (card fields, 3-D Secure), allowed only when Stripe takes payments.
_STRIPE_SCRIPTS = ("https://js.stripe.com", "https://*.js.stripe.com")
_STRIPE_FRAMES = ("https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com")
_STRIPE_CONNECT = ("https://api.stripe.com",)
_STRIPE_IMAGES = ("https://*.stripe.com",)

HSTS_SECONDS = 365 * 24 * 3600


def request_nonce(scope: Scope) -> str:
    """This request's CSP nonce, made on first use."""
    store = cast(dict[str, Any], scope)
    nonce = store.get(_NONCE_KEY)
    if nonce is None:
        nonce = store[_NONCE_KEY] = secrets.token_urlsafe(18)
    return str(nonce)


@pass_context
def csp_nonce(context: Context) -> str:
    """Jinja global: ``<script nonce="{{ csp_nonce() }}">`` for an inline script that must be."""
    return request_nonce(context["request"].scope)


class SecurityHeaders:
    """A ``before_send`` hook adding the headers to each response's start message. Headers a
    handler set itself win (private attachments send their own sandboxing policy)."""

    def __init__(self, settings: Settings) -> None:
        stripe = settings.payments.uses_stripe
        self._stripe = stripe
        fixed: dict[str, str] = {
            "x-content-type-options": "nosniff",
            "x-frame-options": "DENY",
            "referrer-policy": "strict-origin-when-cross-origin",
            "permissions-policy": permissions_policy(stripe=stripe),
            "cross-origin-opener-policy": "same-origin",
        }
        if settings.web.base_url.startswith("https://"):
            # No includeSubDomains: the operator's other subdomains are not ours to decide.
            fixed["strict-transport-security"] = f"max-age={HSTS_SECONDS}"
        self._fixed = [(name.encode(), value.encode()) for name, value in fixed.items()]

    async def __call__(self, message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = list(message.get("headers", ()))
        present = {name.lower() for name, _ in headers}
        nonce = cast(dict[str, Any], scope).get(_NONCE_KEY)
        policy = content_security_policy(nonce, stripe=self._stripe).encode()
        for name, value in [(b"content-security-policy", policy), *self._fixed]:
            if name not in present:
                headers.append((name, value))
        message["headers"] = headers


def content_security_policy(nonce: str | None = None, *, stripe: bool = False) -> str:
    scripts = ["'self'", *(_STRIPE_SCRIPTS if stripe else ())]
    if nonce:
        scripts.append(f"'nonce-{nonce}'")
    directives: dict[str, Iterable[str]] = {
        "default-src": ["'self'"],
        "script-src": scripts,
        # Stylesheets from our origin only; no <style> element and no style="" attribute (a
        # value computed per row uses a class, see the .pct-N classes in duet.css).
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *(_STRIPE_IMAGES if stripe else ())],
        "media-src": ["'self'", "blob:"],
        # 'self' covers our own ws:/wss: sockets (messages, the lesson room).
        "connect-src": ["'self'", *(_STRIPE_CONNECT if stripe else ())],
        "frame-src": list(_STRIPE_FRAMES) if stripe else ["'none'"],
        "worker-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def permissions_policy(*, stripe: bool = False) -> str:
    """Camera and microphone for our own pages (the lesson room and its check page); payment
    for Stripe's frames when Stripe is on; the rest nobody."""
    payment = '(self "https://js.stripe.com")' if stripe else "()"
    return ", ".join(
        [
            "camera=(self)",
            "microphone=(self)",
            "display-capture=()",
            "geolocation=()",
            f"payment={payment}",
            "usb=()",
        ]
    )
