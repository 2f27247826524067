"""Intake's rules: what makes a submission a case, and how a case changes. Pure: no I/O."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from pydantic import ValidationError

from mednet_shared.contracts.envelope import reasons
from mednet_shared.contracts.events import CaseOpened, CaseUpdated, CaseWithdrawn, SubmitCase
from mednet_shared.contracts.values import Party, Reason, Session, WeeklyWindow

MAX_SESSION_HOURS = 24 * 14


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


@dataclass(frozen=True)
class Case:
    case_id: str
    firm_id: str
    submission: SubmitCase
    revision: int = 1
    status: str = "open"
    changes: tuple[str, ...] = field(default=())

    @property
    def participant_firms(self) -> list[str]:
        firms = {self.firm_id} | {p.attorney.firm_id for p in self.submission.parties if p.attorney}
        return sorted(firms)

    def visible_to(self, firm_id: str) -> bool:
        return firm_id in self.participant_firms

    def opened(self) -> CaseOpened:
        s = self.submission
        return CaseOpened(case_id=self.case_id, firm_id=self.firm_id, external_ref=s.external_ref, title=s.title,
                          mediator=s.mediator, session=s.session, parties=s.parties, policy=s.policy,
                          participant_firms=self.participant_firms)

    def updated(self) -> CaseUpdated:
        return CaseUpdated(case_id=self.case_id, firm_id=self.firm_id, revision=self.revision,
                           changes=list(self.changes), session=self.submission.session,
                           parties=self.submission.parties, participant_firms=self.participant_firms)

    def withdrawn(self, reason: str) -> CaseWithdrawn:
        return CaseWithdrawn(case_id=self.case_id, firm_id=self.firm_id, reason=reason,
                             participant_firms=self.participant_firms)


def open_case(firm_id: str, submission: SubmitCase, now: datetime) -> Case:
    check_submission(submission, now)
    return Case(case_id_for(firm_id, submission.external_ref), firm_id, submission)


def change_case(case: Case, by_firm: str, now: datetime, *, session: Session | None = None,
                add_parties: list[Party] = ()) -> Case:
    _require_open_and_owned(case, by_firm, "change")
    changes, submission = [], case.submission
    if session is not None and session != submission.session:
        problems = _session_problems(session, now, "session")
        if problems:
            raise Rejected(problems)
        submission, changes = submission.model_copy(update={"session": session}), ["session_moved"]
    if add_parties:
        parties = [*submission.parties, *add_parties]
        problems = _party_problems(parties)
        if problems:
            raise Rejected(problems)
        submission, changes = submission.model_copy(update={"parties": parties}), [*changes, "party_added"]
    if not changes:
        raise Rejected([Reason(field="", message="nothing to change: give a different session or new parties")])
    return replace(case, submission=submission, revision=case.revision + 1, changes=tuple(changes))


def change_availability(case: Case, by_firm: str, party_id: str, availability: list[WeeklyWindow],
                        unavailable: list) -> Case:
    if case.status != "open":
        raise NotAllowed(f"case {case.case_id} is {case.status}")
    party = next((p for p in case.submission.parties if p.party_id == party_id), None)
    if party is None:
        raise Rejected([Reason(field="party_id", message=f"case {case.case_id} has no party {party_id!r}")])
    if by_firm not in {case.firm_id, party.attorney.firm_id if party.attorney else case.firm_id}:
        raise NotAllowed(f"firm {by_firm} does not represent party {party_id}")
    problems = _window_problems(availability, "availability")
    if problems:
        raise Rejected(problems)
    changed = party.model_copy(update={"availability": availability, "unavailable": unavailable})
    parties = [changed if p.party_id == party_id else p for p in case.submission.parties]
    return replace(case, submission=case.submission.model_copy(update={"parties": parties}),
                   revision=case.revision + 1, changes=("availability_changed",))


def withdraw(case: Case, by_firm: str) -> Case:
    _require_open_and_owned(case, by_firm, "withdraw")
    return replace(case, status="withdrawn", revision=case.revision + 1, changes=())


def _require_open_and_owned(case: Case, by_firm: str, action: str) -> None:
    if case.firm_id != by_firm:
        raise NotAllowed(f"only the submitting firm may {action} case {case.case_id}")
    if case.status != "open":
        raise NotAllowed(f"case {case.case_id} is {case.status}")
