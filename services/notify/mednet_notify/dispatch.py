"""Sends due jobs: email over SMTP (aiosmtplib), signed webhooks (Standard Webhooks) over HTTP.

A job is claimed with a lease before it is sent, so two instances never send it twice; a crash while
sending lets the lease expire and the job is tried again. Failures are retried with exponential backoff
and jitter; after the last attempt the job fails with NotificationFailed. Every attempt is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import socket
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any

import aiosmtplib
import httpx
from standardwebhooks import Webhook

from mednet_shared.contracts.envelope import CloudEvent, derived_id, new_event
from mednet_shared.contracts.events import NotificationFailed, NotificationSent
from mednet_shared.contracts.values import utc_now
from mednet_shared.platform import metrics as platform_metrics

from . import metrics
from .messages import Email
from .store import NotifyStore

log = logging.getLogger("mednet.notify.dispatch")
SOURCE = "/mednet/notify"
LEASE = timedelta(seconds=60)


class DeliveryError(Exception):
    pass


class Mailer:
    """Sends over a few SMTP connections kept open between messages (an SMTP session takes one message after
    another). A kept connection the server has dropped is replaced once; any other failure is the job's."""

    def __init__(self, host: str, port: int, sender: str, timeout: float = 10.0, keep: int = 16,
                 idle_seconds: float = 30.0) -> None:
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout
        self.keep, self.idle_seconds = keep, idle_seconds
        self._local_hostname: str | None = None
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []

    async def send(self, email: Email, alert_id: str | None = None) -> None:
        message = email.to_message(self.sender, alert_id)
        try:
            kept = self._take_kept()
            if kept is not None:
                try:
                    return await self._send_over(kept, message)
                except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
                    pass
            await self._send_over(await self._connect(), message)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise DeliveryError(f"SMTP {self.host}:{self.port}: {type(error).__name__}: {error}") from None

    async def _send_over(self, connection: aiosmtplib.SMTP, message: Message) -> None:
        try:
            await connection.send_message(message)
        except BaseException:
            connection.close()
            raise
        if len(self._idle) < self.keep and connection.is_connected:
            self._idle.append((connection, time.monotonic()))
        else:
            connection.close()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection, _ in idle:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await connection.quit()

    def _take_kept(self) -> aiosmtplib.SMTP | None:
        now = time.monotonic()
        while self._idle:
            connection, since = self._idle.pop()
            if connection.is_connected and now - since < self.idle_seconds:
                return connection
            connection.close()
        return None

    async def _connect(self) -> aiosmtplib.SMTP:
        if self._local_hostname is None:
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        connection = aiosmtplib.SMTP(hostname=self.host, port=self.port, timeout=self.timeout, start_tls=False,
                                     use_tls=False, local_hostname=self._local_hostname)
        await connection.connect()
        return connection


class WebhookSender:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def send(self, endpoint: dict[str, Any], secret: str, message_id: str, payload: str) -> int:
        timestamp = utc_now()
        signature = Webhook(secret).sign(message_id, timestamp, payload)
        headers = {"webhook-id": message_id, "webhook-timestamp": str(int(timestamp.timestamp())),
                   "webhook-signature": signature, "content-type": "application/json"}
        try:
            response = await self.client.post(endpoint["url"], content=payload, headers=headers)
        except httpx.HTTPError as error:
            raise DeliveryError(f"{type(error).__name__}: {error}") from None
        if not 200 <= response.status_code < 300:
            raise DeliveryError(f"HTTP {response.status_code}")
        return response.status_code


class Dispatcher:
    def __init__(self, store: NotifyStore, mailer: Mailer, webhooks: WebhookSender, *, poll_seconds: float,
                 max_attempts: int, backoff_seconds: float, backoff_max_seconds: float, disable_after: int,
                 concurrency: int = 16, clock: Callable[[], datetime] = utc_now) -> None:
        self.store, self.mailer, self.webhooks = store, mailer, webhooks
        self.poll_seconds, self.max_attempts = poll_seconds, max_attempts
        self.backoff_seconds, self.backoff_max_seconds = backoff_seconds, backoff_max_seconds
        self.disable_after = disable_after
        self.concurrency = concurrency
        self.clock = clock
        self._next_lease_check = datetime.min.replace(tzinfo=UTC)
        self._wake = asyncio.Event()
        self._ready: list[str] = []
        self._next_due: datetime | None = None
        self._scan_now = False
        self._task: asyncio.Task | None = None

    def wake(self) -> None:
        """Look for due jobs now."""
        self._scan_now = True
        self._wake.set()

    def due_now(self, job_ids: list[str]) -> None:
        """Send these jobs now, without looking for them: they were just written and are due."""
        self._ready += job_ids
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="notify-dispatcher")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        """Jobs handed over by the handlers go at once; a scan every poll finds the rest (reminders, retries,
        jobs of an instance that died)."""
        loop = asyncio.get_running_loop()
        scan_at = 0.0
        while True:
            ready, self._ready = self._ready, []
            self._wake.clear()
            try:
                if ready:
                    await self.dispatch(ready)
                if self._scan_now or loop.time() >= scan_at:
                    self._scan_now = False
                    scan_at = loop.time() + self.poll_seconds
                    await self.dispatch_due()
                    scan_at = loop.time() + self._sleep_seconds()
            except Exception:
                log.exception("dispatch round failed; retrying")
            if not self._ready and not self._scan_now:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), max(0.0, scan_at - loop.time()))

    def _sleep_seconds(self) -> float:
        if self._next_due is None:
            return self.poll_seconds
        return max(0.0, min(self.poll_seconds, (self._next_due - self.clock()).total_seconds()))

    async def dispatch_due(self, limit: int = 50) -> int:
        """Send what is due; note when the next job is due (now, if more are due than one scan takes)."""
        now = self.clock()
        self._next_due = None
        if now >= self._next_lease_check:
            await self.store.release_expired_claims(now)
            self._next_lease_check = now + LEASE / 4
        pending = await self.store.earliest_pending(limit)
        due = [job["_id"] for job in pending if job["due_at"] <= now]
        later = [job["due_at"] for job in pending if job["due_at"] > now]
        self._next_due = later[0] if later else (now if len(due) == limit else None)
        return await self.dispatch(due)

    async def dispatch(self, job_ids: list[str]) -> int:
        """These jobs at once (up to `concurrency` in flight), each claimed before it is sent."""
        in_flight = asyncio.Semaphore(self.concurrency)

        async def claim_and_deliver(job_id: str) -> int:
            async with in_flight:
                claimed = await self.store.claim(job_id, LEASE, self.clock())
                if claimed:
                    await self._deliver(claimed)
                return int(claimed is not None)

        return sum(await asyncio.gather(*(claim_and_deliver(job_id) for job_id in job_ids)))

    async def _deliver(self, job: dict[str, Any]) -> None:
        started = self.clock()
        try:
            await self._send(job)
        except DeliveryError as error:
            return await self._failed(job, str(error), started)
        attempt = {"at": started, "ok": True}
        await self.store.finish(job["_id"], "sent", attempt, None, [self._outcome(job, NotificationSent,
                                                                                 sent_at=self.clock())])
        metrics.NOTIFICATIONS.labels(job["channel"], job["purpose"], "sent").inc()

    async def _send(self, job: dict[str, Any]) -> None:
        if job["channel"] == "email":
            await self.mailer.send(Email(**job["email"]), job["_id"])
            return
        endpoint = await self.store.endpoint(job["endpoint_id"])
        if endpoint is None or not endpoint["enabled"]:
            raise DeliveryError("the webhook endpoint is disabled or deleted")
        try:
            secret = self.store.signing_secret(endpoint)
        except ValueError as error:
            raise DeliveryError(f"the endpoint's signing secret is unusable: {error}") from None
        try:
            await self.webhooks.send(endpoint, secret, job["message_id"], job["payload"])
        except DeliveryError:
            await self.store.endpoint_outcome(endpoint["_id"], False, self.disable_after)
            raise
        await self.store.endpoint_outcome(endpoint["_id"], True, self.disable_after)

    async def _failed(self, job: dict[str, Any], error: str, started: datetime) -> None:
        attempts = job["attempt_count"] + 1
        attempt = {"at": started, "ok": False, "error": error[:500]}
        platform_metrics.RETRIES.labels("notify", job["channel"]).inc()
        if attempts < self.max_attempts:
            delay = min(self.backoff_max_seconds, self.backoff_seconds * 2 ** (attempts - 1))
            due = self.clock() + timedelta(seconds=delay * random.uniform(0.5, 1.5))
            log.warning("%s to %s failed (attempt %s): %s; next try at %s", job["purpose"], job["channel"],
                        attempts, error, due.isoformat())
            return await self.store.finish(job["_id"], "pending", attempt, due, [])
        log.error("%s via %s failed for good after %s attempts: %s", job["purpose"], job["channel"], attempts, error)
        failed = self._outcome(job, NotificationFailed, error=error[:2000], attempts=attempts, failed_at=self.clock())
        await self.store.finish(job["_id"], "failed", attempt, None, [failed])
        metrics.NOTIFICATIONS.labels(job["channel"], job["purpose"], "failed").inc()

    def _outcome(self, job: dict[str, Any], kind, **extra) -> CloudEvent:
        notification_id = "n-" + uuid.uuid5(uuid.NAMESPACE_URL, job["_id"]).hex
        message = kind(notification_id=notification_id, case_id=job["case_id"], source_event_id=job["source_event_id"],
                       source_event_type=job["source_event_type"], channel=job["channel"],
                       recipient=job["recipient"], kind=job["purpose"], **extra)
        return new_event(message, SOURCE, event_id=derived_id(job["_id"], kind.__name__))


def webhook_payload(event: CloudEvent) -> str:
    return json.dumps(event.model_dump(mode="json", exclude_none=True), separators=(",", ":"))
