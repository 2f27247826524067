"""Intake's rules: what makes a submission a case, and how a case changes. Pure: no I/O."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from mednet_shared.contracts.envelope import derived_id, reasons, text_of
from mednet_shared.contracts.events import CaseOpened, CaseRejected, CaseUpdated, CaseWithdrawn, SubmitCase
from mednet_shared.contracts.values import (
    DateWindow,
    Mediator,
    Party,
    Reason,
    SchedulingPolicy,
    Session,
    WeeklyWindow,
)

MAX_SESSION_HOURS = 24 * 14
SCHEMA = 2
SUBMITTED = frozenset(SubmitCase.model_fields)


class Rejected(Exception):
    def __init__(self, reasons: list[Reason]) -> None:
        super().__init__("; ".join(f"{r.field}: {r.message}" for r in reasons))
        self.reasons = reasons


class NotAllowed(Exception):
    """The caller may not do this to this case."""


def case_id_for(firm_id: str, external_ref: str) -> str:
    """The same submission (firm + the firm's own reference) always names the same case."""
    return "case-" + uuid.uuid5(uuid.NAMESPACE_URL, f"mednet:case:{firm_id}:{external_ref}").hex[:20]


def parse_submission(document: object) -> SubmitCase:
    try:
        return SubmitCase.model_validate(document)
    except ValidationError as error:
        raise Rejected(reasons(error)) from None


def check_submission(submission: SubmitCase, now: datetime) -> None:
    problems = _session_problems(submission.session, now, "session")
    problems += _window_problems(submission.mediator.working_hours, "mediator.working_hours")
    problems += _party_problems(submission.parties)
    if problems:
        raise Rejected(problems)


def _session_problems(session: Session, now: datetime, where: str) -> list[Reason]:
    problems = []
    if session.start <= now:
        problems.append(Reason(field=f"{where}.start", message="the session must start in the future"))
    if session.end <= session.start:
        problems.append(Reason(field=f"{where}.end", message="the session must end after it starts"))
    elif session.end - session.start > timedelta(hours=MAX_SESSION_HOURS):
        problems.append(Reason(field=f"{where}.end", message=f"a session lasts at most {MAX_SESSION_HOURS} hours"))
    return problems


def _window_problems(windows: list[WeeklyWindow], where: str) -> list[Reason]:
    return [
        Reason(field=f"{where}.{index}.end", message="a window must end after it starts")
        for index, window in enumerate(windows)
        if window.end <= window.start
    ]


def _party_problems(parties: list[Party]) -> list[Reason]:
    problems = []
    seen: set[str] = set()
    for index, party in enumerate(parties):
        if party.party_id in seen:
            problems.append(Reason(field=f"parties.{index}.party_id", message=f"duplicate party id {party.party_id!r}"))
        seen.add(party.party_id)
        problems += _window_problems(party.availability, f"parties.{index}.availability")
        problems += [
            Reason(field=f"parties.{index}.unavailable.{n}.end", message="a window must end after it starts")
            for n, window in enumerate(party.unavailable)
            if window.end <= window.start
        ]
    if len({party.role for party in parties}) < 2 and all(party.role != "other" for party in parties):
        problems.append(Reason(field="parties", message="a case needs parties on at least two sides"))
    return problems


class Case(BaseModel):
    """Intake's own state of a case: what was submitted, by whom, and how it stands (the stored document)."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    firm_id: str
    external_ref: str
    title: str
    mediator: Mediator
    session: Session
    parties: list[Party]
    policy: SchedulingPolicy
    revision: int = 1
    status: Literal["open", "withdrawn"] = "open"
    changes: tuple[str, ...] = ()

    @property
    def participant_firms(self) -> list[str]:
        firms = {self.firm_id} | {p.attorney.firm_id for p in self.parties if p.attorney}
        return sorted(firms)

    def submitted(self, mode: Literal["python", "json"] = "python") -> dict[str, Any]:
        """What the firm submitted (the SubmitCase's fields), as they stand now."""
        return self.model_dump(mode=mode, include=SUBMITTED)

    def visible_to(self, firm_id: str) -> bool:
        return firm_id in self.participant_firms

    def mediated_by(self, mediator_id: str | None) -> bool:
        return self.mediator.mediator_id == mediator_id

    def opened(self) -> CaseOpened:
        return CaseOpened(case_id=self.case_id, firm_id=self.firm_id, external_ref=self.external_ref,
                          title=self.title, mediator=self.mediator, session=self.session, parties=self.parties,
                          policy=self.policy, participant_firms=self.participant_firms)

    def updated(self) -> CaseUpdated:
        return CaseUpdated(case_id=self.case_id, firm_id=self.firm_id, revision=self.revision,
                           changes=list(self.changes), session=self.session, parties=self.parties,
                           participant_firms=self.participant_firms)

    def withdrawn(self, reason: str) -> CaseWithdrawn:
        return CaseWithdrawn(case_id=self.case_id, firm_id=self.firm_id, reason=reason,
                             participant_firms=self.participant_firms)


Changed = tuple[Case, CaseUpdated | CaseWithdrawn]


def stored_case(document: dict[str, Any]) -> Case:
    """A stored case in either shape: intake's own (schema 2) or the first one, which kept the SubmitCase as a
    whole under "submission" (migrated on read; the next write stores schema 2)."""
    fields = {key: value for key, value in document.items() if key not in ("_id", "schema", "submission")}
    if "submission" in document:
        fields = {**document["submission"], **fields}
        fields.setdefault("policy", SchedulingPolicy().model_dump(mode="json"))
    return Case.model_validate({**fields, "case_id": document["_id"]})


def case_document(case: Case) -> dict[str, Any]:
    return {"_id": case.case_id, "schema": SCHEMA, **case.model_dump(mode="json", exclude={"case_id"})}


def open_case(firm_id: str, submission: SubmitCase, now: datetime) -> Case:
    check_submission(submission, now)
    return Case(case_id=case_id_for(firm_id, submission.external_ref), firm_id=firm_id,
                **{name: getattr(submission, name) for name in SubmitCase.model_fields})


def resubmitted(existing: Case, submitted: Case) -> Case:
    """The same submission again is its case; the same reference with other content is refused."""
    if existing.submitted() != submitted.submitted():
        raise Rejected([Reason(field="external_ref", message=f"{submitted.external_ref!r} already names "
                                                             f"case {existing.case_id} with different content")])
    return existing


def rejection(firm_id: str, document: object, problems: list[Reason]) -> CaseRejected:
    reference = document.get("external_ref") if isinstance(document, dict) else None
    return CaseRejected(firm_id=firm_id, external_ref=text_of(reference, 128) if reference else "", reasons=problems)


def change_case(case: Case, by_firm: str, now: datetime, *, session: Session | None = None,
                add_parties: list[Party] = ()) -> Changed:
    _require_open_and_owned(case, by_firm, "change")
    changes, update = [], {}
    if session is not None and session != case.session:
        problems = _session_problems(session, now, "session")
        if problems:
            raise Rejected(problems)
        update, changes = {"session": session}, ["session_moved"]
    if add_parties:
        parties = [*case.parties, *add_parties]
        problems = _party_problems(parties)
        if problems:
            raise Rejected(problems)
        update, changes = {**update, "parties": parties}, [*changes, "party_added"]
    if not changes:
        raise Rejected([Reason(field="", message="nothing to change: give a different session or new parties")])
    changed = case.model_copy(update={**update, "revision": case.revision + 1, "changes": tuple(changes)})
    return changed, changed.updated()


def change_availability(case: Case, by_firm: str, party_id: str, availability: list[WeeklyWindow],
                        unavailable: list[DateWindow]) -> Changed:
    if case.status != "open":
        raise NotAllowed(f"case {case.case_id} is {case.status}")
    party = next((p for p in case.parties if p.party_id == party_id), None)
    if party is None:
        raise Rejected([Reason(field="party_id", message=f"case {case.case_id} has no party {party_id!r}")])
    if by_firm not in {case.firm_id, party.attorney.firm_id if party.attorney else case.firm_id}:
        raise NotAllowed(f"firm {by_firm} does not represent party {party_id}")
    problems = _window_problems(availability, "availability")
    if problems:
        raise Rejected(problems)
    moved = party.model_copy(update={"availability": availability, "unavailable": unavailable})
    changed = case.model_copy(update={"parties": [moved if p.party_id == party_id else p for p in case.parties],
                                      "revision": case.revision + 1, "changes": ("availability_changed",)})
    return changed, changed.updated()


def withdraw(case: Case, by_firm: str, reason: str = "") -> Changed:
    _require_open_and_owned(case, by_firm, "withdraw")
    changed = case.model_copy(update={"status": "withdrawn", "revision": case.revision + 1, "changes": ()})
    return changed, changed.withdrawn(reason)


def change_event_id(command_key: str, changed: Case) -> str:
    """A change's event id, from the command that caused it: its redelivery derives the same id."""
    return derived_id(command_key, changed.case_id, str(changed.revision))


def opened_event_id(case: Case) -> str:
    return derived_id(case.case_id, "opened")


def rejection_event_id(command_key: str) -> str:
    return derived_id(command_key, "rejected")


def _require_open_and_owned(case: Case, by_firm: str, action: str) -> None:
    if case.firm_id != by_firm:
        raise NotAllowed(f"only the submitting firm may {action} case {case.case_id}")
    if case.status != "open":
        raise NotAllowed(f"case {case.case_id} is {case.status}")
