"""Notify's handlers: each event becomes jobs (emails, reminders, webhooks) and firm stream records.

Nothing is sent here: jobs are written durably, keyed by (event, channel, recipient), and the dispatcher
sends them. So a redelivered event adds nothing, and a restart loses nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from mednet_shared.contracts.envelope import CloudEvent, derived_id
from mednet_shared.contracts.events import (
    BriefReady,
    CallCancelled,
    CallCompleted,
    CallRescheduled,
    CallScheduled,
    CaseOpened,
    CaseUpdated,
    Message,
    ObjectivesRecorded,
    SchedulingFailed,
)
from mednet_shared.contracts.values import Attendee, AttendeeKind, utc_now
from mednet_shared.platform.consumer import Incoming

from . import messages
from .dispatch import Dispatcher, webhook_payload
from .messages import Email
from .projection import ROUTED_BY_FACTS, CaseFacts, firms_for, project
from .store import NotifyStore


def email_job(event: CloudEvent, case_id: str, purpose: str, email: Email, *, due_at: datetime,
              key: str | None = None, call_id: str | None = None, sequence: int | None = None) -> dict[str, Any]:
    return {"_id": key or f"{event.id}:email:{email.to.lower()}", "channel": "email", "purpose": purpose,
            "recipient": email.to, "case_id": case_id, "call_id": call_id, "sequence": sequence, "due_at": due_at,
            "source_event_id": event.id, "source_event_type": event.type,
            "email": {"to": email.to, "subject": email.subject, "text": email.text, "calendar": email.calendar,
                      "calendar_method": email.calendar_method}}


class Notifier:
    def __init__(self, store: NotifyStore, dispatcher: Dispatcher, brief_url: str,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.brief_url = brief_url
        self.clock = clock

    async def handle(self, incoming: Incoming) -> None:
        """Every event: remember what later events need, email the people it concerns, feed the firms. The three
        depend only on earlier events, so they go side by side; the event is done when all three are."""
        event, message = incoming.event, incoming.message
        outcomes = await asyncio.gather(self._remember(message), self._alert(event, message),
                                        self._route(event, message), return_exceptions=True)
        if failure := next((outcome for outcome in outcomes if isinstance(outcome, BaseException)), None):
            raise failure

    async def _alert(self, event: CloudEvent, message: Message) -> None:
        await self._send(await self._wanted(await self._emails(event, message)))

    async def _route(self, event: CloudEvent, message: Message) -> None:
        facts = await self._facts(message.case_id) if isinstance(message, ROUTED_BY_FACTS) else CaseFacts()
        await self._feed(event, message, sorted(firms_for(message, facts)))

    async def _send(self, jobs: list[dict[str, Any]]) -> None:
        """Write the jobs; those due now are written claimed and go to the dispatcher at once."""
        now = self.clock()
        written = await self.store.add_jobs(jobs, self.dispatcher.lease_until(now), now)
        self.dispatcher.hand_over([job for job in written if job["status"] == "sending"])

    async def _feed(self, event: CloudEvent, message: Message, firms: list[str]) -> None:
        """Each firm's outbound stream record (one write for all of them) and its webhook jobs."""
        if not firms:
            return
        projected = {firm: project(event, message, firm) for firm in firms}
        endpoints, _ = await asyncio.gather(self.store.endpoints_of(firms),
                                            self.store.stream(f"{event.id}:streams", projected))
        await self._send([self._webhook(event, message, endpoint, projected[endpoint["firm_id"]])
                          for endpoint in endpoints])

    async def _remember(self, message: Message) -> None:
        if isinstance(message, CaseOpened):
            await self.store.remember("cases", message.case_id, {
                "firm_id": message.firm_id, "participant_firms": message.participant_firms,
                "mediator_id": message.mediator.mediator_id,
                "mediator": Attendee(kind=AttendeeKind.MEDIATOR, name=message.mediator.name,
                                     email=message.mediator.email,
                                     time_zone=message.mediator.time_zone).model_dump(mode="json"),
                "party_firms": {p.party_id: [p.attorney.firm_id] for p in message.parties if p.attorney}})
        elif isinstance(message, CaseUpdated):
            await self.store.remember("cases", message.case_id, {
                "participant_firms": message.participant_firms,
                "party_firms": {p.party_id: [p.attorney.firm_id] for p in message.parties if p.attorney}})
        elif isinstance(message, (CallScheduled, CallRescheduled)):
            await self.store.remember("calls", message.call_id, {**message.model_dump(mode="json"),
                                                                 "start": message.start, "end": message.end})

    async def _facts(self, case_id: str) -> CaseFacts:
        case = await self.store.recall("cases", case_id) if case_id else None
        if not case:
            return CaseFacts()
        return CaseFacts(case.get("firm_id", ""), {p: set(f) for p, f in case.get("party_firms", {}).items()})

    async def _emails(self, event: CloudEvent, message: Message) -> list[dict[str, Any]]:
        now = self.clock()
        if isinstance(message, (CallScheduled, CallRescheduled)):
            if message.sequence > 0:
                await self.store.drop_reminders(message.call_id, message.sequence)
            return await self._invitations(event, message, now)
        if isinstance(message, CallCancelled):
            await self.store.drop_reminders(message.call_id, message.sequence + 1)
            call = await self.store.recall("calls", message.call_id) or {}
            start, end = message.start or call.get("start"), message.end or call.get("end")
            if start is None or end is None:
                return []
            return [email_job(event, message.case_id, "cancellation",
                              messages.cancellation_notice(message, a, start, end), due_at=now)
                    for a in message.attendees]
        if isinstance(message, CallCompleted):
            return [email_job(event, message.case_id, "completion", messages.completion_confirmation(message, a),
                              due_at=now) for a in await self._attendees(message.call_id)]
        if isinstance(message, ObjectivesRecorded):
            own_side = [a for a in await self._attendees(message.call_id)
                        if a.kind in (AttendeeKind.PARTY, AttendeeKind.ATTORNEY)]
            return [email_job(event, message.case_id, "objectives", messages.objectives_confirmation(message, a),
                              due_at=now) for a in own_side]
        if isinstance(message, BriefReady):
            mediator = await self._mediator(message.case_id)
            url = self.brief_url.format(case_id=message.case_id)
            return [email_job(event, message.case_id, "brief-ready",
                              messages.brief_ready_notice(message, mediator, url), due_at=now)] if mediator else []
        if isinstance(message, SchedulingFailed):
            mediator = await self._mediator(message.case_id)
            return [email_job(event, message.case_id, "scheduling-failed",
                              messages.scheduling_failed_notice(message, mediator), due_at=now)] if mediator else []
        return []

    async def _invitations(self, event: CloudEvent, call: CallScheduled, now: datetime) -> list[dict[str, Any]]:
        jobs = []
        for attendee in call.attendees:
            jobs.append(email_job(event, call.case_id, "invitation", messages.invitation(call, attendee), due_at=now,
                                  call_id=call.call_id, sequence=call.sequence))
            for lead, due in messages.reminder_times(call.start, now):
                key = f"{call.call_id}:{call.sequence}:reminder-{int(lead.total_seconds())}:{attendee.email.lower()}"
                jobs.append(email_job(event, call.case_id, "reminder", messages.reminder(call, attendee, lead),
                                      due_at=due, key=key, call_id=call.call_id, sequence=call.sequence))
        return jobs

    async def _wanted(self, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Per-recipient preferences, read once per recipient: calendar invites and cancellations always go
        (calendars must stay right); other emails only if email is wanted; reminders only if reminders are."""
        preferences = await self.store.preferences_of({job["recipient"] for job in jobs}) if jobs else {}

        def wanted(job: dict[str, Any]) -> bool:
            choice = preferences[job["recipient"]]
            if job["purpose"] in ("invitation", "cancellation"):
                return True
            if job["purpose"] == "reminder" and choice.get("reminders", True) is False:
                return False
            return choice.get("email", True) is not False

        return [job for job in jobs if wanted(job)]

    async def _attendees(self, call_id: str) -> list[Attendee]:
        call = await self.store.recall("calls", call_id)
        return [Attendee.model_validate(a) for a in (call or {}).get("attendees", [])]

    async def _mediator(self, case_id: str) -> Attendee | None:
        case = await self.store.recall("cases", case_id)
        return Attendee.model_validate(case["mediator"]) if case and case.get("mediator") else None

    def _webhook(self, event: CloudEvent, message: Message, endpoint: dict[str, Any],
                 projected: CloudEvent) -> dict[str, Any]:
        return {"_id": f"{event.id}:webhook:{endpoint['_id']}", "channel": "webhook", "purpose": "webhook",
                "recipient": endpoint["_id"], "firm_id": endpoint["firm_id"], "endpoint_id": endpoint["_id"],
                "message_id": derived_id(projected.id, endpoint["_id"]), "payload": webhook_payload(projected),
                "case_id": getattr(message, "case_id", "") or event.subject, "due_at": self.clock(),
                "source_event_id": event.id, "source_event_type": event.type}
