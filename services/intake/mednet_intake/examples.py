"""The OpenAPI document's examples: one submission, and the views of its case the domain itself makes from it (so
they cannot drift from what the API answers)."""

from __future__ import annotations

from datetime import UTC, datetime

from mednet_shared.contracts.events import SubmitCase

from . import domain

WEEKDAYS = [{"day": day, "start": "09:00", "end": "17:00"} for day in ("mon", "tue", "wed", "thu", "fri")]
SUBMISSION = {
    "external_ref": "HL-2027-0142",
    "title": "Harbor Supplies v. Dockside Freight",
    "mediator": {"mediator_id": "med-ana", "name": "Ana Mediator", "email": "ana@mediators.example.org",
                 "time_zone": "Europe/Berlin", "working_hours": WEEKDAYS},
    "session": {"start": "2027-03-15T09:00:00+01:00", "end": "2027-03-15T17:00:00+01:00",
                "time_zone": "Europe/Berlin"},
    "parties": [
        {"party_id": "p1", "role": "claimant", "contact": {"name": "Harbor Supplies Ltd",
                                                           "email": "legal@harbor-supplies.example.org"},
         "time_zone": "Europe/London", "availability": WEEKDAYS,
         "attorney": {"firm_id": "harbor-law", "name": "Jo Counsel", "email": "jo@harbor-law.example.org"}},
        {"party_id": "p2", "role": "respondent", "contact": {"name": "Dockside Freight GmbH",
                                                             "email": "office@dockside.example.org"},
         "time_zone": "Europe/Berlin", "availability": WEEKDAYS,
         "attorney": {"firm_id": "meridian-legal", "name": "Sam Advocate", "email": "sam@meridian.example.org"}},
    ],
}
CASE = domain.open_case("harbor-law", SubmitCase.model_validate(SUBMISSION), datetime(2027, 1, 4, 9, tzinfo=UTC))
FIRM_VIEW = domain.firm_view(CASE, "harbor-law")
CASE_VIEW = domain.full_view(CASE)
CHANGE = {"session": {**SUBMISSION["session"], "start": "2027-03-16T09:00:00+01:00",
                      "end": "2027-03-16T17:00:00+01:00"}}
ACCEPTANCE = {"attorney": {"firm_id": "meridian-legal", "name": "Sam Advocate", "email": "sam@meridian.example.org"},
              "time_zone": "Europe/Berlin", "availability": WEEKDAYS}
DECLINATION = {"reason": "We do not act for this party"}
CONFIRMATION = {"contact": {"name": "Dockside Freight GmbH", "email": "office@dockside.example.org"},
                "time_zone": "Europe/Berlin"}
AVAILABILITY = {"availability": WEEKDAYS, "unavailable": [{"start": "2027-02-01T00:00:00+01:00", "end": "2027-02-06T00:00:00+01:00"}]}
WITHDRAWAL = {"reason": "Settled before the session"}
