"""Signed webhooks, delivered in the background with retries so a slow or dead receiver never delays a turn.

Each delivery is a JSON POST signed the Standard Webhooks way (https://www.standardwebhooks.com; libraries such
as ``standardwebhooks`` verify it): ``webhook-id`` (the delivery id: the same on every retry, de-duplicate on
it), ``webhook-timestamp`` (unix seconds) and ``webhook-signature: v1,<base64>``, the HMAC-SHA256 of
``"<id>.<timestamp>.<body>"``. The key is ``webhook_secret``: a ``whsec_<base64>`` secret is decoded, any
other text is used as its UTF-8 bytes. The earlier headers are still sent for receivers built on them:
``X-Tactful-Event`` (the kind), ``X-Tactful-Delivery``, ``X-Tactful-Timestamp`` and ``X-Tactful-Signature:
sha256=<hex>`` (HMAC-SHA256 of ``"<timestamp>.<body>"`` under the secret's text). Network errors, 408, 429 and
5xx are retried with jittered exponential backoff (tenacity); other statuses are final.

``send_signed_webhook(kind, payload)`` is the reusable entry point (the handoff queue and the marketing
concierge alert both use it); it returns at once.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping

import httpx
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from tactful.service.masking import IDENTIFIERS, Masker
from tactful.settings import Settings

log = logging.getLogger("tactful.webhooks")

RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}
OnDone = Callable[[bool], Awaitable[None]]


class _Retryable(Exception):
    pass


SECRET_PREFIX = "whsec_"


def signing_key(secret: str) -> bytes:
    """The Standard Webhooks key of ``secret``: a ``whsec_<base64>`` secret decoded, other text as UTF-8."""
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(SECRET_PREFIX) :] + "==", validate=False)
        except (binascii.Error, ValueError):
            pass
    return secret.encode("utf-8")


def standard_signature(key: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,`` and the base64 HMAC-SHA256 of ``"<id>.<timestamp>.<body>"``."""
    signed = msg_id.encode("utf-8") + b"." + timestamp.encode("ascii") + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-Tactful-Signature`` value for ``body`` sent at ``timestamp``."""
    return "sha256=" + hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    """Receiver side: does ``signature`` match? (Also check that ``timestamp`` is recent.)"""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookSender:
    """Delivers signed JSON payloads to one URL in background tasks; ``aclose`` lets pending ones finish."""

    def __init__(
        self,
        *,
        url: str,
        secret: bytes,
        masker: Masker,
        timeout_s: float = 5.0,
        max_attempts: int = 6,
        backoff_max_s: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        on_outcome: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.url = url
        self.secret = secret
        self.key = signing_key(secret.decode("utf-8"))
        self.masker = masker
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.backoff_max_s = backoff_max_s
        self.on_outcome = on_outcome
        self._client = httpx.AsyncClient(timeout=timeout_s, transport=transport, follow_redirects=False)
        self._tasks: set[asyncio.Task[bool]] = set()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        masker: Masker,
        transport: httpx.AsyncBaseTransport | None = None,
        on_outcome: Callable[[str, bool], None] | None = None,
    ) -> WebhookSender | None:
        if not settings.webhook_url:
            return None
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
        return cls(
            url=settings.webhook_url,
            secret=secret.encode("utf-8"),
            masker=masker,
            timeout_s=settings.webhook_timeout_s,
            max_attempts=settings.webhook_max_attempts,
            backoff_max_s=settings.webhook_backoff_max_s,
            transport=transport,
            on_outcome=on_outcome,
        )

    def send_signed_webhook(
        self,
        kind: str,
        payload: Mapping[str, object],
        *,
        delivery_id: str | None = None,
        on_done: OnDone | None = None,
    ) -> asyncio.Task[bool]:
        """Schedule a delivery of ``payload`` (masked) ; returns its task at once (True: delivered)."""
        masked = self.masker.deep(dict(payload), keep=IDENTIFIERS)
        body = json.dumps(masked, separators=(",", ":"), default=str).encode("utf-8")
        task = asyncio.create_task(self._deliver(kind, body, delivery_id or uuid.uuid4().hex, on_done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _deliver(self, kind: str, body: bytes, delivery_id: str, on_done: OnDone | None) -> bool:
        ok = False
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.max_attempts),
                wait=wait_exponential_jitter(
                    multiplier=min(0.5, self.backoff_max_s),
                    max=self.backoff_max_s,
                    jitter=min(1.0, self.backoff_max_s),
                ),
                retry=retry_if_exception_type(_Retryable),
                reraise=False,
            ):
                with attempt:
                    ok = await self._post(kind, body, delivery_id)
        except RetryError:
            log.warning("webhook %s %s failed after %d attempts", kind, delivery_id, self.max_attempts)
            ok = False
        if self.on_outcome:
            self.on_outcome(kind, ok)
        if on_done:
            try:
                await on_done(ok)
            except Exception:
                log.exception("webhook %s %s: recording the outcome failed", kind, delivery_id)
        return ok

    async def _post(self, kind: str, body: bytes, delivery_id: str) -> bool:
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "tactful-webhooks/1",
            "webhook-id": delivery_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": standard_signature(self.key, delivery_id, timestamp, body),
            "X-Tactful-Event": kind,
            "X-Tactful-Delivery": delivery_id,
            "X-Tactful-Timestamp": timestamp,
            "X-Tactful-Signature": sign(self.secret, timestamp, body),
        }
        try:
            response = await self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise _Retryable(str(exc)) from exc
        if response.status_code in RETRY_STATUSES:
            raise _Retryable(f"HTTP {response.status_code}")
        if response.is_success:
            return True
        log.warning(
            "webhook %s %s refused with HTTP %d; not retried", kind, delivery_id, response.status_code
        )
        return False

    async def aclose(self, *, grace_s: float = 2.0) -> None:
        """Wait up to ``grace_s`` for deliveries in flight, cancel the rest, close the client."""
        pending = set(self._tasks)
        if pending:
            _, still = await asyncio.wait(pending, timeout=grace_s)
            for task in still:
                task.cancel()
            if still:
                await asyncio.gather(*still, return_exceptions=True)
                log.warning("%d webhook deliveries were still pending at shutdown", len(still))
        await self._client.aclose()


class WebhookAlertSink:
    """The marketing graph's alert sink on the signed webhook: queued for background delivery at once."""

    def __init__(self, sender: WebhookSender) -> None:
        self.sender = sender

    async def send(self, kind: str, payload: dict[str, object]) -> None:
        self.sender.send_signed_webhook(kind, payload)


_default: WebhookSender | None = None


def install_default_sender(sender: WebhookSender | None) -> None:
    """Make ``sender`` the one :func:`send_signed_webhook` uses (the app does this at start-up)."""
    global _default
    _default = sender


def send_signed_webhook(kind: str, payload: Mapping[str, object]) -> asyncio.Task[bool] | None:
    """POST ``payload`` to the configured webhook URL in the background, signed; ``None`` when none is set."""
    if _default is None:
        return None
    return _default.send_signed_webhook(kind, payload)
