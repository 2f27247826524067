"""Intake's handlers of the firm inbound topics: a firm's command in -> the use cases (usecases.py)."""

from __future__ import annotations

from collections.abc import Callable

from mednet_shared.contracts.envelope import CloudEvent, EnvelopeError
from mednet_shared.contracts.events import UpdatePartyAvailability, WithdrawCase
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.consumer import Incoming, PoisonMessage

from . import domain
from .domain import Case, Changed, NotAllowed, Rejected
from .usecases import Intake


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
