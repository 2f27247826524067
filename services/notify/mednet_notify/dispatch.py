"""Sends due jobs: email over SMTP (aiosmtplib), signed webhooks (webhooks.py) over HTTPS.

A job is claimed with a lease before it is sent, so two instances never send it twice; a crash while
sending lets the lease expire and the job is tried again. Failures are retried with exponential backoff
and jitter; after the last attempt the job fails with NotificationFailed. Every attempt is recorded.
Emails and webhooks have pools of workers of their own, and one firm's webhooks hold at most a few of the
webhook workers at a time, so a slow endpoint delays neither email nor any other firm's webhooks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import ssl
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any

import aiosmtplib

from mednet_shared.contracts.envelope import CloudEvent, derived_id, new_event
from mednet_shared.contracts.events import NotificationFailed, NotificationSent
from mednet_shared.contracts.values import utc_now
from mednet_shared.platform import metrics as platform_metrics
from mednet_shared.platform.mongo import as_stored

from . import metrics
from .domain import Attempt, Email, Job, next_try, webhook_payload
from .errors import DeliveryError
from .store import Store
from .webhooks import WebhookSender

__all__ = ["DeliveryError", "Dispatcher", "FirmLanes", "Mailer", "WebhookSender", "webhook_payload"]

log = logging.getLogger("mednet.notify.dispatch")
SOURCE = "/mednet/notify"
LEASE = timedelta(seconds=60)


class Mailer:
    """Sends over a few SMTP connections kept open between messages (an SMTP session takes one message after
    another). A kept connection the server has dropped is replaced once; any other failure is the job's.
    security "starttls" or "tls" verifies the server's certificate (against ca_file when given) and never falls
    back to clear text; username and password log in after TLS."""

    def __init__(self, host: str, port: int, sender: str, timeout: float = 10.0, keep: int = 16,
                 idle_seconds: float = 30.0, *, security: str = "none", username: str = "", password: str = "",
                 ca_file: str = "") -> None:
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout
        self.keep, self.idle_seconds = keep, idle_seconds
        self.security, self.username, self.password = security, username, password
        self.tls_context = ssl.create_default_context(cafile=ca_file or None) if security != "none" else None
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
        connection = aiosmtplib.SMTP(
            hostname=self.host, port=self.port, timeout=self.timeout, local_hostname=self._local_hostname,
            start_tls=self.security == "starttls", use_tls=self.security == "tls", tls_context=self.tls_context,
            validate_certs=True, username=self.username or None, password=self.password or None)
        await connection.connect()
        return connection


class FirmLanes:
    """Webhook jobs waiting, one lane per firm, handed out round-robin and at most per_firm of one firm's at a
    time: one firm's slow endpoints hold at most per_firm workers, and every other firm's jobs keep moving."""

    def __init__(self, per_firm: int) -> None:
        self.per_firm = per_firm
        self._waiting: dict[str, deque] = {}
        self._running: Counter[str] = Counter()
        self._changed = asyncio.Event()

    def put(self, firm_id: str, item: Any) -> None:
        self._waiting.setdefault(firm_id, deque()).append(item)
        self._changed.set()

    async def get(self) -> tuple[str, Any]:
        while True:
            for firm_id in list(self._waiting):
                if self._running[firm_id] < self.per_firm:
                    lane = self._waiting.pop(firm_id)
                    item = lane.popleft()
                    if lane:
                        self._waiting[firm_id] = lane
                    self._running[firm_id] += 1
                    return firm_id, item
            self._changed.clear()
            await self._changed.wait()

    def done(self, firm_id: str) -> None:
        self._running[firm_id] -= 1
        if self._running[firm_id] <= 0:
            del self._running[firm_id]
        self._changed.set()

    def running(self, firm_id: str) -> int:
        return self._running[firm_id]

    def drain(self) -> list[Any]:
        waiting, self._waiting = self._waiting, {}
        return [item for lane in waiting.values() for item in lane]


class Dispatcher:
    """Workers send what reaches their queue: jobs this instance just wrote already claimed (sent without another
    write), and jobs the poll finds due (reminders, retries, jobs of an instance that died), claimed first.
    `concurrency` workers send email; `webhook_concurrency` others send webhooks, at most
    `webhook_concurrency_per_firm` of them for one firm."""

    def __init__(self, store: Store, mailer: Mailer, webhooks: WebhookSender, *, poll_seconds: float,
                 max_attempts: int, backoff_seconds: float, backoff_max_seconds: float, disable_after: int,
                 concurrency: int = 16, webhook_concurrency: int = 16, webhook_concurrency_per_firm: int = 2,
                 clock: Callable[[], datetime] = utc_now, poll_limit: int = 100) -> None:
        self.store, self.mailer, self.webhooks = store, mailer, webhooks
        self.poll_seconds, self.max_attempts = poll_seconds, max_attempts
        self.backoff_seconds, self.backoff_max_seconds = backoff_seconds, backoff_max_seconds
        self.disable_after = disable_after
        self.concurrency, self.webhook_concurrency = concurrency, webhook_concurrency
        self.clock = clock
        self.poll_limit = poll_limit
        self._next_lease_check = datetime.min.replace(tzinfo=UTC)
        self._emails: asyncio.Queue[tuple[str, Job | None]] = asyncio.Queue()
        self.lanes = FirmLanes(webhook_concurrency_per_firm)
        self._queued: set[str] = set()
        self._wake = asyncio.Event()
        self._next_due: datetime | None = None
        self._tasks: list[asyncio.Task] = []
        self._stopping = self._stopped = False
        self._sending = 0
        self._left: list[tuple[str, Job | None]] = []

    def wake(self) -> None:
        """Look for due jobs now."""
        self._wake.set()

    def lease_until(self, now: datetime) -> datetime:
        """The end of a claim made now, as MongoDB stores it (so it can be matched in a compare-and-set)."""
        return as_stored(now + LEASE)

    def hand_over(self, jobs: list[Job]) -> None:
        """Send these jobs now: this instance just wrote them, claimed (status sending, with their lease)."""
        for job in jobs:
            self._enqueue(job.id, job.channel, job.firm_id or "", job)

    async def start(self) -> None:
        self._stopping = self._stopped = False
        self._tasks = [asyncio.create_task(self._send_emails(), name=f"notify-mailer-{n}")
                       for n in range(self.concurrency)]
        self._tasks += [asyncio.create_task(self._send_webhooks(), name=f"notify-webhooks-{n}")
                        for n in range(self.webhook_concurrency)]
        self._tasks.append(asyncio.create_task(self._poll(), name="notify-poll"))

    async def stop(self, grace_seconds: float = 15.0) -> None:
        """Take no new job and give the sends under way the grace to finish: one cut off mid-send would be sent
        again by another instance once its lease ends (the same email twice). Jobs queued and not started go back
        to pending, for any instance to send."""
        tasks, self._tasks = self._tasks, []
        if not tasks:
            return
        tasks[-1].cancel()
        self._stopping = True
        waiting = self._take_waiting()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._sends_finished(), grace_seconds)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        waiting += self._take_waiting()
        self._queued.clear()
        unsent = [job for _, job in waiting if job is not None]
        self._stopped = True
        with contextlib.suppress(Exception):
            await self.store.unclaim({job.id: job.lease_until for job in unsent})

    def _take_waiting(self) -> list[tuple[str, Job | None]]:
        waiting, self._left = [*self.lanes.drain(), *self._left], []
        while not self._emails.empty():
            waiting.append(self._emails.get_nowait())
        return waiting

    async def _sends_finished(self) -> None:
        while self._sending:
            await asyncio.sleep(0.02)

    def _enqueue(self, job_id: str, channel: str, firm_id: str, claimed: Job | None) -> None:
        """Queue a job (claimed: the whole job, written claimed; else None, to claim it first)."""
        if job_id in self._queued:
            return
        if self._stopping:
            if claimed is not None and not self._stopped:   # after the stop: claimed, as by an instance that died
                self._left.append((job_id, claimed))
            return
        self._queued.add(job_id)
        if channel == "webhook":
            self.lanes.put(firm_id, (job_id, claimed))
        else:
            self._emails.put_nowait((job_id, claimed))

    async def _send_emails(self) -> None:
        while True:
            await self._process(*await self._emails.get())

    async def _send_webhooks(self) -> None:
        while True:
            firm_id, item = await self.lanes.get()
            try:
                await self._process(*item)
            finally:
                self.lanes.done(firm_id)

    async def _process(self, job_id: str, claimed: Job | None) -> None:
        self._sending += 1
        try:
            job = await self.store.claim(job_id, LEASE, self.clock()) if claimed is None \
                else await self._still_ours(claimed)
            if job is not None:
                await self._deliver(job)
        except Exception:
            log.exception("sending job %s failed; the lease lets it be tried again", job_id)
        finally:
            self._sending -= 1
            self._queued.discard(job_id)

    async def _still_ours(self, job: Job) -> Job | None:
        """A job claimed when it was written, if its lease still covers a send (else renewed, if still ours)."""
        now = self.clock()
        if now < job.lease_until - LEASE / 2:
            return job
        return await self.store.renew(job.id, job.lease_until, self.lease_until(now))

    async def _poll(self) -> None:
        """Due jobs nobody is sending, every poll (at once again while there are more than one poll takes), at
        the next retry this instance knows of, or when woken. A backlog of emails is taken by the mailers before
        the next poll; webhooks are queued in their firms' lanes, so one firm's backlog holds up no one else."""
        while True:
            self._wake.clear()
            backlog = False
            try:
                backlog = await self.dispatch_due() >= self.poll_limit
            except Exception:
                log.exception("looking for due jobs failed; retrying")
            if backlog:
                while not self._emails.empty():
                    await asyncio.sleep(0.02)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._sleep_seconds())

    def _sleep_seconds(self) -> float:
        if self._next_due is None:
            return self.poll_seconds
        return max(0.0, min(self.poll_seconds, (self._next_due - self.clock()).total_seconds()))

    async def dispatch_due(self) -> int:
        """Queue the jobs due now not queued yet, oldest first, at most poll_limit of each channel; returns the
        most found of one channel."""
        now = self.clock()
        if self._next_due is not None and self._next_due <= now:
            self._next_due = None
        if now >= self._next_lease_check:
            await self.store.release_expired_claims(now)
            self._next_lease_check = now + LEASE / 4
        found = 0
        for channel in ("email", "webhook"):
            due = await self.store.due_jobs(now, self.poll_limit, channel, skip=self._queued)
            for job in due:
                self._enqueue(*job, None)
            found = max(found, len(due))
        return found

    async def idle(self) -> None:
        """Until every queued job has been sent or given up (for tests and shutdown)."""
        while self._queued:
            await asyncio.sleep(0.02)

    def _retry_at(self, due: datetime) -> None:
        if self._next_due is None or due < self._next_due:
            self._next_due = due
            self._wake.set()

    async def _deliver(self, job: Job) -> None:
        started = self.clock()
        try:
            await self._send(job)
        except DeliveryError as error:
            return await self._failed(job, str(error), started)
        sent = self._outcome(job, NotificationSent, sent_at=self.clock())
        await self.store.finish(job.id, "sent", Attempt(at=started, ok=True), None, [sent])
        metrics.NOTIFICATIONS.labels(job.channel, job.purpose, "sent").inc()

    async def _send(self, job: Job) -> None:
        if job.channel == "email":
            await self.mailer.send(job.email, job.id)
            return
        endpoint = await self.store.endpoint(job.endpoint_id)
        if endpoint is None or not endpoint["enabled"]:
            raise DeliveryError("the webhook endpoint is disabled or deleted")
        try:
            secret = self.store.signing_secret(endpoint)
        except ValueError as error:
            raise DeliveryError(f"the endpoint's signing secret is unusable: {error}") from None
        try:
            await self.webhooks.send(endpoint, secret, job.message_id, job.payload)
        except DeliveryError:
            await self.store.endpoint_outcome(endpoint["_id"], False, self.disable_after)
            raise
        await self.store.endpoint_outcome(endpoint["_id"], True, self.disable_after)

    async def _failed(self, job: Job, error: str, started: datetime) -> None:
        attempts = job.attempt_count + 1
        attempt = Attempt(at=started, ok=False, error=error[:500])
        platform_metrics.RETRIES.labels("notify", job.channel).inc()
        due = next_try(attempts, self.max_attempts, self.backoff_seconds, self.backoff_max_seconds, self.clock(),
                       random.uniform(0.5, 1.5))
        if due is not None:
            log.warning("%s to %s failed (attempt %s): %s; next try at %s", job.purpose, job.channel,
                        attempts, error, due.isoformat())
            await self.store.finish(job.id, "pending", attempt, due, [])
            return self._retry_at(due)
        log.error("%s via %s failed for good after %s attempts: %s", job.purpose, job.channel, attempts, error)
        failed = self._outcome(job, NotificationFailed, error=error[:2000], attempts=attempts, failed_at=self.clock())
        await self.store.finish(job.id, "failed", attempt, None, [failed])
        metrics.NOTIFICATIONS.labels(job.channel, job.purpose, "failed").inc()

    def _outcome(self, job: Job, kind, **extra) -> CloudEvent:
        notification_id = "n-" + uuid.uuid5(uuid.NAMESPACE_URL, job.id).hex
        message = kind(notification_id=notification_id, case_id=job.case_id, source_event_id=job.source_event_id,
                       source_event_type=job.source_event_type, channel=job.channel,
                       recipient=job.recipient, kind=job.purpose, **extra)
        return new_event(message, SOURCE, event_id=derived_id(job.id, kind.__name__))
