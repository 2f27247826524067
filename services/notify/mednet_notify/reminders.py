"""Readiness reminders at work: the events that change a case's readiness re-plan its reminders; a sweep sends
those due, as jobs the dispatcher delivers (the party's email, the side's firm's webhooks) and the firm's outbound
record. Every id is derived from the reminder's, and its time is the reminder's due time, so a redelivered event or
two instances sweeping at once send each reminder once, and alike."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from mednet_shared.contracts.envelope import derived_id, new_event
from mednet_shared.contracts.events import ReadinessReminder
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import utc_now
from mednet_shared.platform.consumer import Incoming

from . import domain, readiness
from .dispatch import Dispatcher
from .domain import CaseState, Job, Known
from .projection import SOURCE, project
from .readiness import Readiness, Reminder
from .readiness_store import ReadinessStore
from .store import Store

log = logging.getLogger(__name__)
CAS_ATTEMPTS = 20


class Reminders:
    def __init__(self, readiness_store: ReadinessStore, store: Store, dispatcher: Dispatcher,
                 days: tuple[int, ...], sweep_seconds: float, clock: Callable[[], datetime] = utc_now) -> None:
        self.readiness, self.store, self.dispatcher = readiness_store, store, dispatcher
        self.days, self.sweep_seconds, self.clock = days, sweep_seconds, clock
        self._task: asyncio.Task | None = None

    async def handle(self, incoming: Incoming) -> None:
        """The case's readiness as the event leaves it, then its reminders planned again (also after a
        redelivery, in case the plan was cut off)."""
        case_id = incoming.message.case_id
        for _ in range(CAS_ATTEMPTS):
            stored = await self.readiness.readiness(case_id)
            changed = readiness.learnt(stored or Readiness(_id=case_id), incoming.message)
            if changed is None or await self.readiness.save_readiness(changed, stored.version if stored else None):
                break
        else:
            raise RuntimeError(f"readiness of case {case_id} kept changing under {CAS_ATTEMPTS} attempts")
        state = changed or stored
        if state is not None:
            wanted = readiness.planned(state, self.days)
            await self.readiness.plan(case_id, wanted, readiness.ahead(wanted, self.clock()))

    async def sweep(self) -> int:
        """Send (or drop) every reminder due now; returns how many were due."""
        due = await self.readiness.due_reminders(self.clock())
        for reminder in due:
            try:
                await self.fire(reminder)
            except Exception:
                log.exception("readiness reminder %s failed; the next sweep tries again", reminder.id)
        return len(due)

    async def fire(self, reminder: Reminder) -> None:
        now = self.clock()
        case = await self.store.case(reminder.case_id)
        message = readiness.due_reminder(reminder, await self.readiness.readiness(reminder.case_id), case, now)
        if message is None:
            await self.readiness.reminder_done(reminder.id, "dropped")
            return
        event = new_event(message, SOURCE, event_id=derived_id(reminder.id, "reminded")).model_copy(
            update={"time": reminder.due_at})
        jobs = await self._firm_jobs(Known(event, now, case), message, case) + self._email_jobs(
            Known(event, now, case), message, reminder, case)
        await self.store.publish(f"{event.id}:notify", Topics.NOTIFY, event)
        preferences = await self.store.preferences_of({job.recipient for job in jobs if job.channel == "email"})
        written = await self.store.add_jobs(domain.claimed(domain.wanted(jobs, preferences), now,
                                                           self.dispatcher.lease_until(now)))
        self.dispatcher.hand_over([job for job in written if job.status == "sending"])
        await self.readiness.reminder_done(reminder.id, "sent")

    def _email_jobs(self, known: Known, message: ReadinessReminder, reminder: Reminder,
                    case: CaseState | None) -> list[Job]:
        party = readiness.party_of(case, message.party_id)
        if party is None:
            return []
        return [domain.email_job(known, message.case_id, "readiness-reminder", readiness.reminder_email(message, party),
                                 key=f"{reminder.id}:email:{party.email.lower()}")]

    async def _firm_jobs(self, known: Known, message: ReadinessReminder, case: CaseState | None) -> list[Job]:
        """The side's own firm: its outbound record and a webhook job per endpoint (none when unrepresented)."""
        firm = message.side_firm_id
        if not firm:
            return []
        projected = {firm: project(known.event, message, firm, case)}
        await self.store.stream(f"{known.event.id}:streams", projected)
        endpoints = await self.store.endpoints_of([firm])
        return domain.webhook_jobs(known, message, [(e["_id"], e["firm_id"]) for e in endpoints], projected)

    async def start(self) -> None:
        if self._task is not None and not self._task.done():
            return  # connected again after a failed start: one sweep is enough
        self._task = asyncio.create_task(self._sweeping(), name="notify-readiness-reminders")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _sweeping(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("the readiness reminder sweep failed; retrying")
            await asyncio.sleep(self.sweep_seconds)
