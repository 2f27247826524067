"""Intake's use cases, shared by the firm inbound topics and the HTTP API: command in -> domain -> store + outbox."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from mednet_shared.contracts.envelope import CloudEvent, EnvelopeError, new_event
from mednet_shared.contracts.events import Message, UpdatePartyAvailability, WithdrawCase
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import Reason, utc_now
from mednet_shared.platform.cas import DEFAULT_POLICY, CasPolicy, compare_and_set
from mednet_shared.platform.consumer import Incoming, PoisonMessage

from . import domain
from .domain import Case, Changed, NotAllowed, Rejected
from .store import CaseStore

SOURCE = "/mednet/intake"


@dataclass(frozen=True)
class Submitted:
    case: Case
    created: bool


class Intake:
    def __init__(self, store: CaseStore, clock: Callable[[], datetime] = utc_now,
                 cas_policy: CasPolicy = DEFAULT_POLICY) -> None:
        self.store = store
        self.clock = clock
        self.cas_policy = cas_policy

    async def submit(self, firm_id: str, document: object, cause: CloudEvent | None, key: str) -> Submitted:
        try:
            case = domain.open_case(firm_id, domain.parse_submission(document), self.clock())
            event = self._event(case.opened(), firm_id, cause, domain.opened_event_id(case))
            if await self.store.add(case, event):
                return Submitted(case, created=True)
            return Submitted(domain.resubmitted(await self.store.get(case.case_id), case), created=False)
        except Rejected as rejected:
            await self.reject(firm_id, document, rejected.reasons, cause, key)
            raise

    async def reject(self, firm_id: str, document: object, reasons: list[Reason], cause: CloudEvent | None,
                     key: str) -> None:
        event = self._event(domain.rejection(firm_id, document, reasons), firm_id, cause,
                            domain.rejection_event_id(key))
        await self.store.reject(key, event)

    async def change(self, case_id: str, firm_id: str, cause: CloudEvent | None, key: str,
                     apply: Callable[[Case], Changed]) -> Case:
        """Read, apply a domain change, write it if the case is unchanged since (else all again)."""

        async def attempt() -> Case:
            case = await self.store.get(case_id)
            if case is None or not case.visible_to(firm_id):
                raise LookupError(case_id)
            changed, message = apply(case)
            event = self._event(message, firm_id, cause, domain.change_event_id(key, changed))
            await self.store.replace(changed, case.revision, [event])
            return changed

        return await compare_and_set(attempt, service="intake", what="case", key=case_id,
                                     policy=self.cas_policy)

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
        command, firm = incoming.message, firm_of(incoming.topic)
        await self._change(incoming, command.case_id, lambda case: domain.withdraw(case, firm, command.reason))

    async def update_party_availability(self, incoming: Incoming[UpdatePartyAvailability]) -> None:
        c, firm = incoming.message, firm_of(incoming.topic)
        await self._change(incoming, c.case_id, lambda case: domain.change_availability(
            case, firm, c.party_id, c.availability, c.unavailable))

    async def _change(self, incoming: Incoming, case_id: str, apply: Callable[[Case], Changed]) -> None:
        try:
            await self.intake.change(case_id, firm_of(incoming.topic), incoming.event,
                                     incoming.event.sender_key(incoming.topic), apply)
        except LookupError:
            raise PoisonMessage(f"no case {case_id} visible to firm {firm_of(incoming.topic)}") from None
        except (NotAllowed, Rejected) as refused:
            raise PoisonMessage(str(refused)) from None


def firm_of(topic: str) -> str:
    firm = Topics.firm_of_inbound(topic)
    if firm is None:
        raise PoisonMessage(f"{topic} is not a firm inbound topic")
    return firm
