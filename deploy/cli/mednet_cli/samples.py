"""Case submissions as a firm sends them, valid by default: the one builder of the demo, the benchmark, the chaos and
fuzz runs and the tests.

Representation (issue 17): a party whose attorney's firm is the submitting firm is confirmed at once; one whose
attorney is of another firm awaits that firm's AcceptRepresentation (`accept_representation`); one without an
attorney awaits the mediator. `represented_by` gives every party one firm (the bench and chaos firms represent
every party themselves, so every side is confirmed at once).
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta

from mednet_shared.contracts.envelope import CloudEvent, KafkaRecord
from mednet_shared.contracts.topics import Topics

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
WEEK = WEEKDAYS + ["sat", "sun"]
ZONES = ("Europe/London", "America/New_York", "Asia/Kolkata", "UTC")
ROLES = ("claimant", "respondent", "other", "other")
FIRMS = "abcdefgh"
POLICY = {"call_minutes": 45, "minimum_notice_hours": 24, "preparation_lead_hours": 24}


def hours(start: str = "09:00", end: str = "17:00", days=WEEKDAYS) -> list[dict]:
    return [{"day": day, "start": start, "end": end} for day in days]


def party_email(party_id: str, tag: str = "") -> str:
    return f"{party_id}{'.' + tag if tag else ''}@parties.example.org"


def counsel_email(party_id: str, firm: str, tag: str = "") -> str:
    return f"counsel-{party_id}{'.' + tag if tag else ''}@{firm}.example.org"


def party(party_id: str, role: str, zone: str, attorney_firm: str | None = None, email: str | None = None, *,
          tag: str = "", name: str | None = None, counsel: str | None = None, counsel_address: str | None = None,
          availability: list[dict] | None = None) -> dict:
    """One party; with attorney_firm, represented by that firm. `tag` makes the addresses unique to a case."""
    document = {
        "party_id": party_id,
        "role": role,
        "contact": {"name": name or f"Party {party_id}", "email": email or party_email(party_id, tag)},
        "time_zone": zone,
        "availability": availability or hours("08:00", "20:00", WEEK),
    }
    if attorney_firm:
        document["attorney"] = {"firm_id": attorney_firm, "name": counsel or f"Counsel for {party_id}",
                                "email": counsel_address or counsel_email(party_id, attorney_firm, tag)}
    return document


def mediator(mediator_id: str, name: str = "Ada Mediator", *, email: str | None = None, zone: str = "Europe/Berlin",
             working_hours: list[dict] | None = None, buffer_minutes: int = 15) -> dict:
    return {"mediator_id": mediator_id, "name": name, "email": email or f"{mediator_id}@mediators.example.org",
            "time_zone": zone, "working_hours": working_hours or hours("08:00", "18:00"),
            "buffer_minutes": buffer_minutes}


def session_start(now: datetime | None, days_ahead: int, hour: int = 14) -> datetime:
    return ((now or datetime.now(UTC)) + timedelta(days=days_ahead)).replace(hour=hour, minute=0, second=0,
                                                                             microsecond=0)


def case(external_ref: str, parties: list[dict], *, mediator: dict, start: datetime, session_hours: int = 6,
         zone: str = "Europe/Berlin", title: str | None = None, policy: dict | None = None) -> dict:
    return {
        "external_ref": external_ref,
        "title": title or f"Dispute {external_ref}",
        "mediator": mediator,
        "session": {"start": start.isoformat(), "end": (start + timedelta(hours=session_hours)).isoformat(),
                    "time_zone": zone},
        "parties": parties,
        "policy": policy or dict(POLICY),
    }


def submission(external_ref: str, *, parties: int = 2, mediator_id: str = "med-ada", days_ahead: int = 21,
               now: datetime | None = None, zones=ZONES, represented_by: str | None = None, tag: str = "",
               title: str | None = None, mediator_name: str = "Ada Mediator") -> dict:
    """Parties p1..pN; each represented by firm-a, firm-b, ... unless `represented_by` names one firm for all."""
    roles = ["claimant", "respondent"] + ["other"] * (parties - 2)
    return case(external_ref, [party(f"p{n + 1}", roles[n], zones[n % len(zones)],
                                     attorney_firm=represented_by or f"firm-{FIRMS[n]}", tag=tag)
                               for n in range(parties)],
                mediator=mediator(mediator_id, mediator_name), start=session_start(now, days_ahead), title=title)


def command(firm: str, event_type: str, data: object, *, subject: str, event_id: str | None = None,
            now: datetime | None = None) -> CloudEvent:
    """A command as the firm sends it on its inbound topic; its time is the moment it is made."""
    return CloudEvent(id=event_id or str(uuid.uuid4()), type=event_type, source=f"/firms/{firm}",
                      subject=subject, time=now or datetime.now(UTC), data=data)


def submit_case(firm: str, document: dict, *, event_id: str | None = None) -> CloudEvent:
    return command(firm, "mednet.SubmitCase.v1", document, event_id=event_id, subject=document["external_ref"])


def accept_representation(firm: str, case_id: str, party_id: str, **corrections) -> CloudEvent:
    """The named firm confirms it represents the party (corrections: contact, attorney, time_zone, availability)."""
    return command(firm, "mednet.AcceptRepresentation.v1", {"case_id": case_id, "party_id": party_id, **corrections},
                   subject=case_id)


def record(event: CloudEvent, firm: str) -> KafkaRecord:
    """The record of a firm's command on its inbound topic."""
    return event.to_record(Topics.firm_inbound(firm))


def awaiting(document: dict, firm: str) -> list[tuple[str, str]]:
    """(firm, party_id) of every party of a submission by `firm` that another firm must accept."""
    return [(p["attorney"]["firm_id"], p["party_id"]) for p in document["parties"]
            if p.get("attorney") and p["attorney"]["firm_id"] != firm]


def variant(document: dict, path: str, value) -> dict:
    """A deep copy with one field replaced (path "a.b.0.c"); value DELETE removes it."""
    changed = copy.deepcopy(document)
    *parents, last = path.split(".")
    target = changed
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is DELETE:
        del target[int(last) if isinstance(target, list) else last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return changed


DELETE = object()
