"""Intake's use cases, shared by the firm inbound topics and the HTTP API: read, let the domain decide, write the
state with its events (store + outbox)."""

from __future__ import annotations

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
