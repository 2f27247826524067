"""Notes' event handlers: intake's and scheduling's events in -> the use cases (usecases.py); and SubmitStatement on
a firm's inbound topic (the firm is the topic's), whose refusal or invalid data is answered with CommandRejected on
mednet.notes.events (every reason) and not dead-lettered; a record that is no envelope at all is left to intake."""

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
    SubmitStatement,
)
from mednet_shared.contracts.envelope import CloudEvent, EnvelopeError, text_of
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import Reason
from mednet_shared.platform.consumer import PoisonMessage
from mednet_shared.platform.consumer import Incoming

from .domain.statement import StatementRefused, StatementText
from .usecases import Notes


class NotesHandlers:
    def __init__(self, notes: Notes) -> None:
        self.notes = notes

    async def case_opened(self, incoming: Incoming[CaseOpened]) -> None:
        case = incoming.message
        await self.notes.learn_case(case.case_id, case.mediator.mediator_id, 1, case.parties, case.sides,
                                    case.session)

    async def case_updated(self, incoming: Incoming[CaseUpdated]) -> None:
        update = incoming.message
        await self.notes.learn_case(update.case_id, "", update.revision, update.parties, update.sides,
                                    update.session)

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

    async def submit_statement(self, incoming: Incoming[SubmitStatement]) -> None:
        """A side's statement (text only) from the firm whose inbound topic carried it."""
        command, firm = incoming.message, _firm(incoming.topic)
        sender_key = incoming.event.sender_key(incoming.topic)
        text = StatementText.model_validate(command.model_dump(include=set(StatementText.model_fields)))
        try:
            await self.notes.submit_statement(command.case_id, command.party_id, firm, text, [], sender_key)
        except StatementRefused as refused:
            await self.notes.reject(incoming.event, sender_key, firm, command.case_id, refused.reasons)

    async def invalid_command(self, event: CloudEvent, error: EnvelopeError, topic: str) -> None:
        """A SubmitStatement whose data is invalid: every reason, back to the firm."""
        data = event.data if isinstance(event.data, dict) else {}
        case_id = data.get("case_id")
        await self.notes.reject(event, event.sender_key(topic), _firm(topic),
                                text_of(case_id, 128) if isinstance(case_id, str) else "", error.reasons)

    async def dead_lettered(self, event: CloudEvent | None, value: bytes, error: BaseException,
                            dead_letter_topic: str, topic: str, *, record: str | None = None) -> None:
        """A firm's SubmitStatement that failed every attempt here and was dead-lettered: CommandRejected to that
        firm, in plain words (the failure's text may hold anyone's data). A record that is no envelope is intake's
        to answer (the inbound topics' owner)."""
        firm = Topics.firm_of_inbound(topic)
        if firm is None or event is None:
            return
        data = event.data if isinstance(event.data, dict) else {}
        case_id = data.get("case_id")
        reason = Reason(field="", message=("the command could not be processed and was set aside for the network's "
                                           "operators (dead-lettered)"))
        await self.notes.reject(event, event.sender_key(topic), firm,
                                text_of(case_id, 128) if isinstance(case_id, str) else "", [reason], dead_letter_topic)


def _firm(topic: str) -> str:
    firm = Topics.firm_of_inbound(topic)
    if firm is None:
        raise PoisonMessage(f"{topic[:200]} is no firm's inbound topic")
    return firm
