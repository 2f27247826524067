"""Intake's use cases, shared by the firm inbound topics and the HTTP API: event in -> domain -> store + outbox."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from mednet_shared.contracts.envelope import CloudEvent, EnvelopeError, derived_id, new_event, text_of
from mednet_shared.contracts.events import CaseRejected, Message, UpdatePartyAvailability, WithdrawCase
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import Reason, utc_now
from mednet_shared.platform.consumer import Incoming, PoisonMessage

from . import domain
from .domain import Case, NotAllowed, Rejected
from .store import CaseStore, StaleCase

SOURCE = "/mednet/intake"


@dataclass(frozen=True)
class Submitted:
    case: Case
    created: bool


class Intake:
    def __init__(self, store: CaseStore, clock: Callable[[], datetime] = utc_now) -> None:
        self.store = store
        self.clock = clock

    async def submit(self, firm_id: str, document: object, cause: CloudEvent | None, key: str) -> Submitted:
        try:
            submission = domain.parse_submission(document)
            case = domain.open_case(firm_id, submission, self.clock())
            return await self._store_new(case, cause)
        except Rejected as rejected:
            await self.reject(firm_id, document, rejected.reasons, cause, key)
            raise

    async def _store_new(self, case: Case, cause: CloudEvent | None) -> Submitted:
        event = self._event(case.opened(), case.firm_id, cause, derived_id(case.case_id, "opened"))
        if await self.store.add(case, event):
            return Submitted(case, created=True)
        existing = await self.store.get(case.case_id)
        if existing.submission != case.submission:
            raise Rejected([Reason(field="external_ref", message=f"{case.submission.external_ref!r} already names "
                                                                  f"case {case.case_id} with different content")])
        return Submitted(existing, created=False)

    async def reject(self, firm_id: str, document: object, reasons: list[Reason], cause: CloudEvent | None,
                     key: str) -> None:
        reference = document.get("external_ref") if isinstance(document, dict) else None
        rejected = CaseRejected(firm_id=firm_id, external_ref=text_of(reference, 128) if reference else "",
                                reasons=reasons)
        await self.store.reject(key, self._event(rejected, firm_id, cause, derived_id(key, "rejected")))

    async def change(self, case_id: str, firm_id: str, cause: CloudEvent | None, key: str, apply,
                     reason: str = "") -> Case:
        """Read, apply a domain change, compare-and-set; retried when another writer got there first."""
        for _ in range(10):
            case = await self.store.get(case_id)
            if case is None or not case.visible_to(firm_id):
                raise LookupError(case_id)
            changed = apply(case)
            message = changed.withdrawn(reason) if changed.status == "withdrawn" else changed.updated()
            event = self._event(message, firm_id, cause, derived_id(key, case_id, str(changed.revision)))
            try:
                await self.store.replace(changed, case.revision, [event])
                return changed
            except StaleCase:
                continue
        raise StaleCase(case_id)

    def _event(self, message: Message, firm_id: str, cause: CloudEvent | None, event_id: str) -> CloudEvent:
        return new_event(message, SOURCE, firm_id=firm_id, caused_by=cause, event_id=event_id)


class FirmCommands:
    """Handlers of mednet.firm.<firm_id>.inbound: the firm is the topic's, never the payload's. What is derived from
    a command (its rejection, the ids of the events it causes) is keyed by its sender key (topic, source, id), never
    by the firm-chosen id alone: two firms' commands with the same id are two commands."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake

    async def submit_case(self, incoming: Incoming) -> None:
        try:
            await self.intake.submit(firm_of(incoming.topic), incoming.event.data, incoming.event,
                                     incoming.event.sender_key(incoming.topic))
        except Rejected:
            return

    async def invalid_submission(self, event: CloudEvent, error: EnvelopeError, topic: str) -> None:
        await self.intake.reject(firm_of(topic), event.data, error.reasons, event, event.sender_key(topic))

    async def withdraw_case(self, incoming: Incoming[WithdrawCase]) -> None:
        command = incoming.message
        await self._change(incoming, command.case_id, lambda case: domain.withdraw(case, firm_of(incoming.topic)),
                           command.reason)

    async def update_party_availability(self, incoming: Incoming[UpdatePartyAvailability]) -> None:
        c, firm = incoming.message, firm_of(incoming.topic)
        await self._change(incoming, c.case_id,
                           lambda case: domain.change_availability(case, firm, c.party_id, c.availability,
                                                                   c.unavailable))

    async def _change(self, incoming: Incoming, case_id: str, apply, reason: str = "") -> None:
        try:
            await self.intake.change(case_id, firm_of(incoming.topic), incoming.event,
                                     incoming.event.sender_key(incoming.topic), apply, reason)
        except LookupError:
            raise PoisonMessage(f"no case {case_id} visible to firm {firm_of(incoming.topic)}") from None
        except (NotAllowed, Rejected) as refused:
            raise PoisonMessage(str(refused)) from None


def firm_of(topic: str) -> str:
    firm = Topics.firm_of_inbound(topic)
    if firm is None:
        raise PoisonMessage(f"{topic} is not a firm inbound topic")
    return firm
