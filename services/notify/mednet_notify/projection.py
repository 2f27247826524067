"""What a firm sees of an event: each firm only its own cases' events (domain.ROUTES says which), projected for it.

A projection is a whitelist: for each event type the fields a firm may see, and of a case's parties and sides only
its own. A firm F sees side S's data (contacts, availability, attorney, call times, attendees, reasons, place,
objectives) only if S is confirmed and S's firm is F. Every participant firm sees the case-level facts: case id,
external_ref, session, the mediator's id, name and zone (not email or hours), the case's status, how many calls are
done. The submitting firm also sees the title and every side's Side entry (who it awaits, since when). An event
type with no whitelist here reaches no firm with any data. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mednet_shared.contracts.envelope import CloudEvent, derived_id
from mednet_shared.contracts.events import (
    CallCancelled,
    CallCompleted,
    CallOutcomeRecorded,
    CallMissed,
    CallRescheduled,
    CallScheduled,
    CallSlotsOffered,
    CallWaived,
    CaseOpened,
    CaseRejected,
    CaseUpdated,
    CaseWithdrawn,
    CommandRejected,
    Message,
    ObjectivesRecorded,
    PreMediationCompleted,
    ReadinessReminder,
    RepresentationRequested,
    SchedulingFailed,
    SideReadinessChanged,
    StatementReceived,
)

from .domain import PER_SIDE_CHANGES, CaseState, confirmed_side_firms

SOURCE = "/mednet/notify"
MEDIATOR_FIELDS = ("mediator_id", "name", "time_zone")


def project(event: CloudEvent, message: Message, firm_id: str, case: CaseState | None = None) -> CloudEvent:
    """The event as firm_id receives it on mednet.firm.<firm_id>.outbound and by webhook."""
    return CloudEvent(
        id=derived_id(event.id, "firm", firm_id),
        type=event.type,
        source=SOURCE,
        subject=event.subject,
        time=event.time,
        data=view(message, firm_id, case),
        firmid=firm_id,
        correlationid=event.correlationid or event.id,
        causationid=event.id,
    )


def view(message: Message, firm_id: str, case: CaseState | None = None) -> dict[str, Any]:
    """The whitelisted data of the event for firm_id; an event type without a whitelist gives nothing."""
    seen = VIEWS.get(type(message))
    return seen(message, firm_id, case) if seen else {}


def picked(message: Message, *names: str) -> dict[str, Any]:
    data = message.model_dump(mode="json")
    return {name: data[name] for name in names if name in data}


def firms_seen(participant_firms: list[str], submitting: str | None, firm_id: str) -> list[str]:
    """The submitting firm sees every participant firm; any other only the submitter and itself."""
    if submitting == firm_id:
        return list(participant_firms)
    return [f for f in participant_firms if f in (submitting, firm_id)]


def case_view(message: CaseOpened | CaseUpdated, firm_id: str, case: CaseState | None) -> dict[str, Any]:
    """Case-level facts, the firm's own confirmed parties in full, the sides it may see."""
    own = {party for party, firm in confirmed_side_firms(message.parties, message.sides).items() if firm == firm_id}
    submits = message.firm_id == firm_id
    data = picked(message, "case_id", "firm_id", "session")
    data["parties"] = [p.model_dump(mode="json") for p in message.parties if p.party_id in own]
    data["sides"] = [s.model_dump(mode="json") for s in message.sides if submits or s.firm_id == firm_id]
    data["participant_firms"] = firms_seen(message.participant_firms, message.firm_id, firm_id)
    if isinstance(message, CaseOpened):
        data.update(picked(message, "external_ref", "policy"))
        data["mediator"] = {name: getattr(message.mediator, name) for name in MEDIATOR_FIELDS}
        if submits:
            data["title"] = message.title
    else:
        data["revision"] = message.revision
        known = {s["party_id"] for s in data["sides"]} | own
        data["party_ids"] = [party for party in message.party_ids if party in known]
        about_others = bool(message.party_ids) and not data["party_ids"]
        data["changes"] = [change for change in message.changes
                           if not (about_others and change in PER_SIDE_CHANGES)]  # another side's news is its own
    return data


def withdrawn_view(message: CaseWithdrawn, firm_id: str, case: CaseState | None) -> dict[str, Any]:
    data = picked(message, "case_id", "firm_id")
    data["participant_firms"] = firms_seen(message.participant_firms, message.firm_id, firm_id)
    if message.firm_id == firm_id:
        data["reason"] = message.reason  # the submitter's own words; another firm learns only the status
    return data


def completed_view(message: PreMediationCompleted, firm_id: str, case: CaseState | None) -> dict[str, Any]:
    """How many calls are done of how many; the call ids of the firm's own sides only."""
    own = {party for party, firms in (case.party_firms if case else {}).items() if firm_id in firms}
    mine = [call for call in message.call_ids if call.rpartition(":")[2] in own]
    data = picked(message, "case_id", "mediator_id", "completed_at")
    data["call_ids"] = mine
    data["waived_call_ids"] = [call for call in message.waived_call_ids if call.rpartition(":")[2] in own]
    data["calls_done"] = len(message.call_ids)
    data["calls_waived"] = len(message.waived_call_ids)
    data["participant_firms"] = firms_seen(message.participant_firms, case.firm_id if case else None, firm_id)
    return data


def side_view(*names: str) -> Callable[[Message, str, CaseState | None], dict[str, Any]]:
    """An event about one side, for that side's own firm (domain.ROUTES sends it nowhere else): its fields, and
    of the participant firms only those the firm may know of."""
    def seen(message: Message, firm_id: str, case: CaseState | None) -> dict[str, Any]:
        data = picked(message, *names)
        if "participant_firms" in data:
            data["participant_firms"] = firms_seen(message.participant_firms, case.firm_id if case else None,
                                                   firm_id)
        return data
    return seen


def own_view(*names: str) -> Callable[[Message, str, CaseState | None], dict[str, Any]]:
    """An event addressed to one firm (its rejected command, its request to represent): its fields."""
    return lambda message, firm_id, case: picked(message, *names)


CALL = ("call_id", "case_id", "party_id", "mediator_id", "sequence")
BOOKED = (*CALL, "start", "end", "attendees", "participant_firms", "side_firm_id", "place", "booked_by")

VIEWS: dict[type[Message], Callable[[Message, str, CaseState | None], dict[str, Any]]] = {
    CaseOpened: case_view,
    CaseUpdated: case_view,
    CaseWithdrawn: withdrawn_view,
    PreMediationCompleted: completed_view,
    CaseRejected: own_view("firm_id", "external_ref", "case_id", "reasons"),
    CommandRejected: own_view("firm_id", "command_id", "command_type", "case_id", "reasons", "dead_letter_topic",
                              "record", "rejected_at"),
    RepresentationRequested: own_view("case_id", "firm_id", "party_id", "role", "party_name", "mediator_name",
                                      "session", "requested_at"),
    CallSlotsOffered: side_view(*CALL, "offer_id", "slots", "expires_at", "attendees", "participant_firms",
                                "side_firm_id", "decline_url", "side_url"),
    CallScheduled: side_view(*BOOKED),
    CallRescheduled: side_view(*BOOKED, "previous_start", "reason"),
    CallCancelled: side_view(*CALL, "reason", "attendees", "participant_firms", "start", "end", "side_firm_id",
                             "place"),
    CallWaived: side_view(*CALL, "reason", "waived_at", "participant_firms", "side_firm_id"),
    CallCompleted: side_view(*CALL, "completed_at", "participant_firms", "side_firm_id"),
    CallMissed: side_view(*CALL, "missed_count", "participant_firms", "side_firm_id"),
    SchedulingFailed: side_view("case_id", "firm_id", "mediator_id", "party_id", "call_id", "reason",
                                "participant_firms", "side_firm_id"),
    ObjectivesRecorded: side_view("case_id", "call_id", "party_id", "party_firm_id", "objectives", "recorded_at"),
    StatementReceived: side_view(*StatementReceived.model_fields),
    SideReadinessChanged: side_view(*SideReadinessChanged.model_fields),
    ReadinessReminder: side_view(*ReadinessReminder.model_fields),
    CallOutcomeRecorded: side_view(*CallOutcomeRecorded.model_fields),
}
