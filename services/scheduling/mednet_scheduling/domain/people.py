"""Who takes part in a call: its id, and its attendees (the party, its attorney, the mediator who organizes)."""

from __future__ import annotations

from mednet_shared.contracts.values import Attendee, AttendeeKind, Party

from .state import CaseFacts


def call_id_of(case_id: str, party_id: str) -> str:
    return f"{case_id}:{party_id}"


def ids_of_call(call_id: str) -> tuple[str, str]:
    """(case_id, party_id) of a call id; empty strings when it names none."""
    case_id, _, party_id = call_id.rpartition(":")
    return case_id, party_id


def attendees(case: CaseFacts, party: Party) -> list[Attendee]:
    people = [Attendee(kind=AttendeeKind.PARTY, name=party.contact.name, email=party.contact.email,
                       time_zone=party.time_zone, firm_id=party.attorney.firm_id if party.attorney else None)]
    if party.attorney:
        people.append(Attendee(kind=AttendeeKind.ATTORNEY, name=party.attorney.name, email=party.attorney.email,
                               time_zone=party.attorney.time_zone or party.time_zone, firm_id=party.attorney.firm_id))
    mediator = case.mediator
    people.append(Attendee(kind=AttendeeKind.MEDIATOR, name=mediator.name, email=mediator.email,
                           time_zone=mediator.time_zone))
    return people
