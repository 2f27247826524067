"""Notes' event handlers: intake's and scheduling's events in -> the use cases (usecases.py)."""

from __future__ import annotations

from mednet_shared.contracts.events import (
    CallCancelled,
    CallCompleted,
    CallRescheduled,
    CallScheduled,
    CallWaived,
    CaseOpened,
    CaseUpdated,
    PreMediationCompleted,
)
from mednet_shared.platform.consumer import Incoming

from .usecases import Notes


class NotesHandlers:
    def __init__(self, notes: Notes) -> None:
        self.notes = notes

    async def case_opened(self, incoming: Incoming[CaseOpened]) -> None:
        case = incoming.message
        await self.notes.learn_case(case.case_id, case.mediator.mediator_id, 1, case.parties, case.sides)

    async def case_updated(self, incoming: Incoming[CaseUpdated]) -> None:
        update = incoming.message
        await self.notes.learn_case(update.case_id, "", update.revision, update.parties, update.sides)

    async def call_scheduled(self, incoming: Incoming[CallScheduled | CallRescheduled]) -> None:
        call = incoming.message
        await self.notes.learn_call(call.case_id, call.call_id, call.party_id, call.mediator_id, "scheduled")

    async def call_cancelled(self, incoming: Incoming[CallCancelled]) -> None:
        call = incoming.message
        await self.notes.learn_call(call.case_id, call.call_id, call.party_id, call.mediator_id, "cancelled")

    async def call_completed(self, incoming: Incoming[CallCompleted]) -> None:
        call = incoming.message
        await self.notes.learn_call(call.case_id, call.call_id, call.party_id, call.mediator_id, "completed")

    async def call_waived(self, incoming: Incoming[CallWaived]) -> None:
        call = incoming.message
        await self.notes.learn_call(call.case_id, call.call_id, call.party_id, call.mediator_id, "waived")

    async def pre_mediation_completed(self, incoming: Incoming[PreMediationCompleted]) -> None:
        done = incoming.message
        await self.notes.learn_completion(done.case_id, done.mediator_id, done.call_ids, done.waived_call_ids)
