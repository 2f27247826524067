"""Intake's use cases, shared by the firm inbound topics and the HTTP API: read, let the domain decide, write the
state with its events (store + outbox)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from mednet_shared.contracts.envelope import CloudEvent, new_event
from mednet_shared.contracts.events import Message
from mednet_shared.contracts.values import Reason, utc_now
from mednet_shared.platform.cas import DEFAULT_POLICY, CasPolicy, compare_and_set

from . import domain
from .domain import Case, Changed, Rejected
from .store import CaseStore

SOURCE = "/mednet/intake"
log = logging.getLogger("mednet.intake")


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
        now = self.clock()
        try:
            case = domain.open_case(firm_id, domain.parse_submission(document, now), now)
            events = [self._event(message, firm_id, cause, domain.opened_event_id(case, index))
                      for index, message in enumerate(domain.opening(case))]
            if await self.store.add(case, events):
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

    async def reject_command(self, firm_id: str, cause: CloudEvent, key: str, reasons: list[Reason], *,
                             case_id: object = "", dead_letter_topic: str | None = None,
                             record: str | None = None) -> None:
        """CommandRejected to the sender, once per command (its id derives from the command's sender key)."""
        message = domain.command_rejected(firm_id, cause.id, cause.type, case_id, reasons, self.clock(),
                                          dead_letter_topic, record)
        caused_by = cause if cause.id else None  # a record with no id causes nothing by name
        await self.store.reject(key, self._event(message, firm_id, caused_by, domain.rejection_event_id(key)))

    async def change(self, case_id: str, firm_id: str | None, cause: CloudEvent | None, key: str,
                     apply: Callable[[Case], Changed], readable: Callable[[Case], bool] | None = None) -> Case:
        """Read, apply a domain change, write it if the case is unchanged since (else all again). A change that
        changes nothing (the same answer again) writes nothing. `readable`: who may know the case (by default the
        firm's being a participant); else LookupError."""
        readable = readable or (lambda case: case.visible_to(firm_id))

        async def attempt() -> Case:
            case = await self.store.get(case_id)
            if case is None or not readable(case):
                raise LookupError(case_id)
            changed, messages = apply(case)
            messages = messages if isinstance(messages, list) else [messages]
            if changed is case and not messages:
                return case
            events = [self._event(message, firm_id, cause, domain.change_event_id(key, changed, index))
                      for index, message in enumerate(messages)]
            await self.store.replace(changed, case.revision, events)
            return changed

        return await compare_and_set(attempt, service="intake", what="case", key=case_id,
                                     policy=self.cas_policy)

    async def sweep_overdue(self, limit: int = 100) -> int:
        """Raise SideConfirmationOverdue for every case whose pending confirmation deadline has come. Claimed by
        the case's revision (compare-and-set): two instances raise each side once."""
        now, raised = self.clock(), 0
        for case_id in await self.store.due(now, limit):
            async def attempt(case_id: str = case_id) -> int:
                case = await self.store.get(case_id)
                if case is None:
                    return 0
                changed, messages = domain.raise_overdue(case, now)
                if changed is case:
                    return 0
                events = [self._event(m, None, None, domain.overdue_event_id(case, m)) for m in messages]
                await self.store.replace(changed, case.revision, events)
                return len(events)

            raised += await compare_and_set(attempt, service="intake", what="case", key=case_id,
                                            policy=self.cas_policy)
        return raised

    def _event(self, message: Message, firm_id: str | None, cause: CloudEvent | None, event_id: str) -> CloudEvent:
        return new_event(message, SOURCE, firm_id=firm_id, caused_by=cause, event_id=event_id)
