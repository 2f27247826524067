"""Cases, sides and calendars for the consent-booking model's tests (no tests here)."""

from datetime import timedelta

from mednet_scheduling.domain.holds import OfferBook
from mednet_scheduling.domain.state import CalendarState, CaseFacts
from mednet_shared.contracts.values import (
    Attorney,
    Contact,
    PartyRole,
    SchedulingPolicy,
    Session,
    Side,
    SideStatus,
)

from .factories import a_mediator, a_party, utc

NOW = utc(2026, 1, 12, 8)                     # Monday 12 January 2026
SESSION_START = utc(2026, 3, 2, 14)           # Monday 2 March 2026
WINDOW_START = SESSION_START - timedelta(days=14)   # Monday 16 February, 14:00
WINDOW_END = SESSION_START - timedelta(days=2)      # Saturday 28 February, 14:00


def a_party_of(party_id: str, firm: str | None, email: str | None = None, **kw):
    party = a_party(**kw).model_copy(update={
        "party_id": party_id, "role": PartyRole.CLAIMANT if party_id.endswith("1") else PartyRole.RESPONDENT,
        "contact": Contact(name=f"Party {party_id}", email=email or f"{party_id}@people.example")})
    if firm:
        party = party.model_copy(update={"attorney": Attorney(firm_id=firm, name=f"Counsel {party_id}",
                                                              email=f"counsel-{party_id}@{firm}.example")})
    return party


def a_case(case_id="case-1", parties=None, statuses=None, session_start=SESSION_START, mediator=None,
           **policy) -> CaseFacts:
    parties = parties or [a_party_of("p1", "firm-a"), a_party_of("p2", "firm-b")]
    statuses = statuses or {}
    sides = [Side(party_id=party.party_id, role=party.role, firm_id=party.attorney.firm_id if party.attorney else None,
                  status=statuses.get(party.party_id, SideStatus.CONFIRMED), since=NOW - timedelta(days=1))
             for party in parties]
    firms = sorted({"firm-a", *(side.firm_id for side in sides if side.firm_id and side.status == "confirmed")})
    policy = {"call_minutes": 45, "minimum_notice_hours": 24, "preparation_lead_hours": 24} | policy
    return CaseFacts(case_id=case_id, firm_id="firm-a", mediator=mediator or a_mediator(),
                     session=Session(start=session_start, end=session_start + timedelta(hours=4), time_zone="UTC"),
                     parties=parties, policy=SchedulingPolicy(**policy), participant_firms=firms, sides=sides)


def empty() -> tuple[CalendarState, OfferBook]:
    return CalendarState(mediator_id="med-1"), OfferBook()
