"""Event in -> use case: intake's events and the firm commands scheduling answers.

A firm's command that scheduling refuses (a rule) or cannot accept (a valid envelope whose data is invalid) is
answered with CommandRejected on mednet.scheduling.events, every reason listed, and not dead-lettered; a record
that is no envelope at all is left to intake, the inbound topics' owner.
"""

from __future__ import annotations

from typing import Any

from mednet_shared.contracts.envelope import CloudEvent, EnvelopeError, text_of, well_formed_part
from mednet_shared.contracts.events import (
    CaseOpened,
    CaseUpdated,
    CaseWithdrawn,
    ChooseCallSlot,
    DeclineCallSlots,
    InvitationReplied,
    Message,
    RequestReschedule,
)
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import Reason
from mednet_shared.platform.consumer import Incoming, PoisonMessage

from .domain import access
from .domain.calls import Placement
from .domain.offers import OfferRefused
from .usecases import Cause, Scheduler, log


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
        """Only the firm of the party's confirmed side moves its call by a command (the mediator does over HTTP)."""
        command, firm = incoming.message, _firm(incoming.topic)
        cause = Cause(incoming.event, incoming.topic)
        state = await self.scheduler.store.case(command.case_id)
        refused = access.reschedule_refusals(state, firm, command.case_id, command.party_id, command.not_before)
        if refused:
            return await self.scheduler.reject(cause, firm, command.case_id, refused)
        await self.scheduler.place(state.facts, state.facts.party(command.party_id), cause, mode=Placement.RESCHEDULE,
                                   not_before=command.not_before, reason=command.reason or "requested by the firm")

    async def choose_or_decline_slots(self, incoming: Incoming[ChooseCallSlot | DeclineCallSlots]) -> None:
        """The side's own confirmed firm (the inbound topic's, never the envelope's claim) chooses a slot of its
        current offer, or declines them all (with proposals: a new offer inside them). Refused: CommandRejected
        with every reason, not dead-lettered."""
        command, firm = incoming.message, _firm(incoming.topic)
        cause = Cause(incoming.event, incoming.topic)
        state = await self.scheduler.store.case(command.case_id)
        refused = access.side_command_refusals(state, firm, command.case_id, command.party_id)
        if refused:
            return await self.scheduler.reject(cause, firm, command.case_id, refused)
        try:
            if isinstance(command, ChooseCallSlot):
                await self.scheduler.choose(command.case_id, command.party_id, command.offer_id, command.slot_id,
                                            cause, sender=firm, known=state)
            else:
                await self.scheduler.decline(command.case_id, command.party_id, command.offer_id,
                                             command.proposals, cause, sender=firm, known=state)
        except OfferRefused as error:
            await self.scheduler.reject(cause, firm, command.case_id, error.reasons)

    async def invitation_replied(self, incoming: Incoming[InvitationReplied]) -> None:
        """notify's iTIP REPLY: DECLINED or COUNTER makes a new offer. A reply about an unknown call, sequence or
        attendee changes nothing (logged; nobody's command to answer)."""
        try:
            await self.scheduler.reply(incoming.message, Cause(incoming.event))
        except OfferRefused as error:
            log.warning("reply %s to call %s ignored: %s", incoming.event.id, incoming.message.call_id, error)

    async def invalid_command(self, event: CloudEvent, error: EnvelopeError, topic: str) -> None:
        """A scheduling command whose data is invalid: every reason back to the firm, the schema's and, when its
        well-formed fields make a whole command, the rules' (those the same firm's valid command would hear)."""
        firm, command = _firm(topic), well_formed_part(event, error.reasons)
        more = await self._refusals(command, firm) if command is not None else []
        await self.scheduler.reject(Cause(event, topic), firm, _case_id_of(event.data), [*error.reasons, *more])

    async def _refusals(self, command: Message, firm: str) -> list[Reason]:
        state = await self.scheduler.store.case(command.case_id)
        if isinstance(command, RequestReschedule):
            return access.reschedule_refusals(state, firm, command.case_id, command.party_id, command.not_before)
        refused = access.side_command_refusals(state, firm, command.case_id, command.party_id)
        if refused or not isinstance(command, ChooseCallSlot | DeclineCallSlots):
            return refused
        return await self.scheduler.answer_refusals(state, state.facts.party(command.party_id), command.offer_id, firm,
                                                    slot_id=getattr(command, "slot_id", None),
                                                    proposals=getattr(command, "proposals", ()))


    async def dead_lettered(self, event: CloudEvent | None, value: bytes, error: BaseException,
                            dead_letter_topic: str, topic: str, *, record: str | None = None) -> None:
        """A firm's command that failed every attempt here and was dead-lettered: CommandRejected to that firm, in
        plain words (the failure's own text may hold anyone's data). A record that is no envelope is intake's to
        answer (the inbound topics' owner); scheduling leaves those alone."""
        firm = Topics.firm_of_inbound(topic)
        if firm is None or event is None:
            return
        reason = Reason(field="", message=("the command could not be processed and was set aside for the network's "
                                           "operators (dead-lettered)"))
        await self.scheduler.reject(Cause(event, topic), firm, _case_id_of(event.data), [reason], dead_letter_topic)


def _firm(topic: str) -> str:
    firm = Topics.firm_of_inbound(topic)
    if firm is None:
        raise PoisonMessage(f"{topic[:200]} is no firm's inbound topic")
    return firm


def _case_id_of(data: dict[str, Any]) -> str:
    value = data.get("case_id") if isinstance(data, dict) else None
    return text_of(value, 128) if isinstance(value, str) else ""
