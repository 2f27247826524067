"""Event in -> use case: intake's events and the firm commands scheduling answers."""

from __future__ import annotations

from mednet_shared.contracts.events import CaseOpened, CaseUpdated, CaseWithdrawn, RequestReschedule
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.consumer import Incoming, PoisonMessage

from .domain.access import party_movable_by
from .domain.calls import Placement
from .usecases import Cause, Scheduler


class SchedulingHandlers:
    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler

    async def case_opened(self, incoming: Incoming[CaseOpened]) -> None:
        await self.scheduler.open_case(incoming.message, Cause(incoming.event))

    async def case_updated(self, incoming: Incoming[CaseUpdated]) -> None:
        await self.scheduler.case_updated(incoming.message, Cause(incoming.event))

    async def case_withdrawn(self, incoming: Incoming[CaseWithdrawn]) -> None:
        await self.scheduler.withdraw(incoming.message, Cause(incoming.event))

    async def request_reschedule(self, incoming: Incoming[RequestReschedule]) -> None:
        command, firm = incoming.message, Topics.firm_of_inbound(incoming.topic)
        state = await self.scheduler.store.case(command.case_id)
        party = party_movable_by(state.facts if state else None, firm, command.party_id)
        if party is None:
            raise PoisonMessage(f"firm {firm} may not reschedule party {command.party_id} of case {command.case_id}")
        await self.scheduler.place(state.facts, party, Cause(incoming.event, incoming.topic), mode=Placement.RESCHEDULE,
                                   not_before=command.not_before, reason=command.reason or "requested by the firm")
