"""Intake's handlers of the firm inbound topics: a firm's command in -> the use cases (usecases.py)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable

from mednet_shared.contracts.envelope import CloudEvent, EnvelopeError, well_formed_part
from mednet_shared.contracts.events import (
    AcceptRepresentation,
    DeclineRepresentation,
    Message,
    MoveSession,
    UpdatePartyAvailability,
    WithdrawCase,
)
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import Reason
from mednet_shared.platform.consumer import Incoming, PoisonMessage

from . import domain
from .domain import Case, Changed, NotAllowed, Rejected
from .usecases import Intake


CHANGES = (WithdrawCase, MoveSession, UpdatePartyAvailability, AcceptRepresentation, DeclineRepresentation)


class FirmCommands:
    """Handlers of mednet.firm.<firm_id>.inbound: the firm is the topic's, never the payload's. What is derived from
    a command (its rejection, the ids of the events it causes) is keyed by its sender key (topic, source, id), never
    by the firm-chosen id alone: two firms' commands with the same id are two commands. A command refused by a rule
    is answered by CommandRejected (every reason, the command's id and type) and not dead-lettered."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake

    async def submit_case(self, incoming: Incoming) -> None:
        try:
            await self.intake.submit(firm_of(incoming.topic), incoming.event.data, incoming.event,
                                     incoming.event.sender_key(incoming.topic))
        except Rejected:
            return

    async def invalid_submission(self, event: CloudEvent, error: EnvelopeError, topic: str) -> None:
        """A submission that fails its schema: rejected with the schema's reasons and the rules' (submit finds both)."""
        with contextlib.suppress(Rejected):
            await self.intake.submit(firm_of(topic), event.data, event, event.sender_key(topic))

    async def change_case(self, incoming: Incoming) -> None:
        """A firm's command that changes a case (CHANGES): the domain decides, by the rule of its type."""
        await self._change(incoming, incoming.message.case_id, *self._rule(incoming.message, firm_of(incoming.topic)))

    withdraw_case = move_session = update_party_availability = accept_representation = change_case
    decline_representation = change_case

    def _rule(self, c: Message, firm: str) -> tuple[Callable[[Case], Changed], Callable[[Case], bool] | None]:
        """What a firm's command does to its case, as the domain decides, and who may know the case (None: its
        participants)."""
        now, known = self.intake.clock, (lambda case: case.known_to(firm))
        if isinstance(c, WithdrawCase):
            return (lambda case: domain.withdraw(case, firm, c.reason)), None
        if isinstance(c, MoveSession):
            return (lambda case: domain.change_case(case, firm, now(), session=c.session)), None
        if isinstance(c, UpdatePartyAvailability):
            return (lambda case: domain.change_availability(case, firm, c.party_id, c.availability, c.unavailable)), None
        if isinstance(c, AcceptRepresentation):
            return (lambda case: domain.accept_representation(case, firm, c, now())), known
        return (lambda case: domain.decline_representation(case, firm, c.party_id, now())), known

    async def _refusals(self, command: Message, firm: str) -> list[Reason]:
        """Every reason the domain refuses the command, judged on the case as it is; nothing is changed."""
        apply, readable = self._rule(command, firm)
        case = await self.intake.store.get(command.case_id)
        if case is None or not (readable or (lambda known: known.visible_to(firm)))(case):
            return [Reason(field="case_id", message=f"no case {command.case_id} visible to firm {firm}")]
        try:
            apply(case)
        except (NotAllowed, Rejected) as refused:
            return domain.refusal_reasons(refused)
        return []

    async def dead_lettered(self, event: CloudEvent | None, value: bytes, error: BaseException,
                            dead_letter_topic: str, topic: str, *, record: str | None = None) -> None:
        """After the consumer dead-lettered a record of a firm's inbound topic: CommandRejected to that firm (the
        topic's, whatever the record claims), with the dead letter's topic and the record's place (`record`,
        partition@offset), even when the record names no id. The reason is the record's own fault in plain words;
        a failure inside the network is told only as such (its text may hold anyone's data)."""
        firm = Topics.firm_of_inbound(topic)
        if firm is None:
            return
        event = event or readable_envelope(value) or CloudEvent.model_construct(id="", type="", source="", data={})
        problems = error.reasons if isinstance(error, EnvelopeError) else [Reason(field="", message=(
            "the command could not be processed and was set aside for the network's operators (dead-lettered)"))]
        command = well_formed_part(event, problems) if isinstance(error, EnvelopeError) and event.id else None
        if isinstance(command, CHANGES):   # its well-formed fields make a whole command: the rules' reasons too
            problems = [*problems, *await self._refusals(command, firm)]
        data = event.data if isinstance(event.data, dict) else {}
        key = event.sender_key(topic) if event.id else f"{topic}|record|{record}"
        await self.intake.reject_command(firm, event, key, problems, case_id=data.get("case_id", ""),
                                         dead_letter_topic=dead_letter_topic, record=record)

    async def _change(self, incoming: Incoming, case_id: str, apply: Callable[[Case], Changed],
                      readable: Callable[[Case], bool] | None = None) -> None:
        firm, key = firm_of(incoming.topic), incoming.event.sender_key(incoming.topic)
        try:
            await self.intake.change(case_id, firm, incoming.event, key, apply, readable)
        except LookupError:
            await self.intake.reject_command(firm, incoming.event, key, [Reason(
                field="case_id", message=f"no case {case_id} visible to firm {firm}")], case_id=case_id)
        except (NotAllowed, Rejected) as refused:
            await self.intake.reject_command(firm, incoming.event, key, domain.refusal_reasons(refused),
                                             case_id=case_id)


def readable_envelope(value: bytes) -> CloudEvent | None:
    """The id and type of a record that is no valid envelope, when it names them (a JSON object with a string
    id); None when there is nothing to answer."""
    try:
        document = json.loads(value[:300_000])
    except (ValueError, RecursionError):
        return None
    if not isinstance(document, dict):
        return None
    identifier, type_ = document.get("id"), document.get("type")
    if not isinstance(identifier, str) or not identifier.strip():
        return None
    source = document.get("source") if isinstance(document.get("source"), str) else "unknown"
    # not validated (it is not a valid envelope): only what answering needs, its id, type and source
    return CloudEvent.model_construct(id=identifier[:200], type=(type_ if isinstance(type_, str) else "")[:200],
                                      source=source[:200] or "unknown", data={})


def firm_of(topic: str) -> str:
    firm = Topics.firm_of_inbound(topic)
    if firm is None:
        raise PoisonMessage(f"{topic} is not a firm inbound topic")
    return firm
