"""Submissions as a firm would send them, valid by default, for tests and the demo."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def hours(start: str = "09:00", end: str = "17:00", days=WEEKDAYS) -> list[dict]:
    return [{"day": day, "start": start, "end": end} for day in days]


def party(party_id: str, role: str, zone: str, attorney_firm: str | None = None, email: str | None = None) -> dict:
    document = {
        "party_id": party_id,
        "role": role,
        "contact": {"name": f"Party {party_id}", "email": email or f"{party_id}@parties.example.org"},
        "time_zone": zone,
        "availability": hours("08:00", "20:00", WEEKDAYS + ["sat", "sun"]),
    }
    if attorney_firm:
        document["attorney"] = {"firm_id": attorney_firm, "name": f"Counsel for {party_id}",
                                "email": f"counsel-{party_id}@{attorney_firm}.example.org"}
    return document


def submission(external_ref: str, *, parties: int = 2, mediator_id: str = "med-ada", days_ahead: int = 21,
               now: datetime | None = None, zones=("Europe/London", "America/New_York", "Asia/Kolkata", "UTC")) -> dict:
    start = ((now or datetime.now(UTC)) + timedelta(days=days_ahead)).replace(hour=14, minute=0, second=0,
                                                                              microsecond=0)
    roles = ["claimant", "respondent"] + ["other"] * (parties - 2)
    return {
        "external_ref": external_ref,
        "title": f"Dispute {external_ref}",
        "mediator": {"mediator_id": mediator_id, "name": "Ada Mediator", "email": f"{mediator_id}@mediators.example.org",
                     "time_zone": "Europe/Berlin", "working_hours": hours("08:00", "18:00"), "buffer_minutes": 15},
        "session": {"start": start.isoformat(), "end": (start + timedelta(hours=6)).isoformat(),
                    "time_zone": "Europe/Berlin"},
        "parties": [party(f"p{n + 1}", roles[n], zones[n % len(zones)], attorney_firm=f"firm-{'abcdefgh'[n]}")
                    for n in range(parties)],
        "policy": {"call_minutes": 45, "minimum_notice_hours": 24, "preparation_lead_hours": 24},
    }


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
