"""Intake's rules: what makes a submission a case, and how a case changes. Pure: no I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from mednet_shared.contracts.envelope import MAX_REASONS, derived_id, reasons, text_of
from mednet_shared.contracts.events import (
    AcceptRepresentation,
    CaseOpened,
    CaseRejected,
    CaseUpdated,
    CaseWithdrawn,
    CommandRejected,
    Message,
    RepresentationRequested,
    SideConfirmationOverdue,
    SubmitCase,
)
from mednet_shared.contracts.values import (
    Attorney,
    Contact,
    DateWindow,
    Mediator,
    Party,
    Reason,
    SchedulingPolicy,
    Session,
    Side,
    SideStatus,
    WeeklyWindow,
)

MAX_SESSION_HOURS = 24 * 14
SCHEMA = 3
SUBMITTED = frozenset(SubmitCase.model_fields)


class Rejected(Exception):
    def __init__(self, reasons: list[Reason]) -> None:
        super().__init__("; ".join(f"{r.field}: {r.message}" for r in reasons))
        self.reasons = reasons


class NotAllowed(Exception):
    """The caller may not do this to this case (with every other problem found along, in reasons)."""

    def __init__(self, message: str, more: list[Reason] = ()) -> None:
        super().__init__(message)
        self.reasons = [Reason(field="", message=message), *more]


def refusal_reasons(error: Exception) -> list[Reason]:
    """What a refusal says to its sender: every reason of a Rejected or NotAllowed, else its text."""
    return list(getattr(error, "reasons", None) or [Reason(field="", message=str(error) or type(error).__name__)])


def case_id_for(firm_id: str, external_ref: str) -> str:
    """The same submission (firm + the firm's own reference) always names the same case."""
    return "case-" + uuid.uuid5(uuid.NAMESPACE_URL, f"mednet:case:{firm_id}:{external_ref}").hex[:20]


def parse_submission(document: object, now: datetime | None = None) -> SubmitCase:
    """The submission, or Rejected with every reason: the schema's and, given now, the rules' of each part that is
    well-formed on its own (the session, the mediator, each party), so one answer lists them all."""
    try:
        return SubmitCase.model_validate(document)
    except ValidationError as error:
        found = reasons(error)
        more = _part_problems(document, now) if now is not None and len(found) < MAX_REASONS else []
        raise Rejected(found + more[:MAX_REASONS - len(found)]) from None


def check_submission(submission: SubmitCase, now: datetime) -> None:
    problems = _session_problems(submission.session, now, "session")
    problems += _window_problems(submission.mediator.working_hours, "mediator.working_hours")
    problems += _party_problems(submission.parties)
    if problems:
        raise Rejected(problems)


def _part_problems(document: object, now: datetime) -> list[Reason]:
    """The rules' reasons for the parts of an ill-formed submission that are well-formed on their own."""
    if not isinstance(document, dict):
        return []
    session, mediator = _valid(Session, document.get("session")), _valid(Mediator, document.get("mediator"))
    listed = document.get("parties") if isinstance(document.get("parties"), list) else []
    parties = {index: party for index, item in enumerate(listed) if (party := _valid(Party, item)) is not None}
    problems = _session_problems(session, now, "session") if session else []
    problems += _window_problems(mediator.working_hours, "mediator.working_hours") if mediator else []
    return problems + _party_problems(list(parties.values()), list(parties), whole=len(parties) == len(listed))


def _valid(model: type[BaseModel], value: object) -> Any:
    try:
        return model.model_validate(value)
    except (ValidationError, ValueError, RecursionError):
        return None


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


def _party_problems(parties: list[Party], indexes: list[int] | None = None, whole: bool = True) -> list[Reason]:
    """indexes: each party's place in the submission (by default its place in the list); whole: these are all of
    the submission's parties (else the rule on two sides cannot be judged)."""
    problems = []
    seen: set[str] = set()
    for index, party in zip(indexes or range(len(parties)), parties):
        if party.party_id in seen:
            problems.append(Reason(field=f"parties.{index}.party_id", message=f"duplicate party id {party.party_id!r}"))
        seen.add(party.party_id)
        problems += _window_problems(party.availability, f"parties.{index}.availability")
        problems += [
            Reason(field=f"parties.{index}.unavailable.{n}.end", message="a window must end after it starts")
            for n, window in enumerate(party.unavailable)
            if window.end <= window.start
        ]
    if whole and len({party.role for party in parties}) < 2 and all(party.role != "other" for party in parties):
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
    sides: list[Side] = []
    overdue_raised: tuple[str, ...] = ()   # "<party_id>@<since>": each awaiting side is raised once

    @property
    def participant_firms(self) -> list[str]:
        """The submitting firm and the firm of every confirmed side, never a firm that has not confirmed."""
        firms = {self.firm_id} | {s.firm_id for s in self.sides if s.status is SideStatus.CONFIRMED and s.firm_id}
        return sorted(firms)

    def side(self, party_id: str) -> Side | None:
        return next((s for s in self.sides if s.party_id == party_id), None)

    def party(self, party_id: str) -> Party | None:
        return next((p for p in self.parties if p.party_id == party_id), None)

    def own_sides(self, firm_id: str) -> list[Side]:
        """The sides this firm represents, confirmed."""
        return [s for s in self.sides if s.status is SideStatus.CONFIRMED and s.firm_id == firm_id]

    def pending_for(self, firm_id: str) -> list[Side]:
        """The sides awaiting this firm's answer."""
        return [s for s in self.sides if s.status is SideStatus.AWAITING_CONFIRMATION and s.firm_id == firm_id]

    def submitted(self, mode: Literal["python", "json"] = "python") -> dict[str, Any]:
        """What the firm submitted (the SubmitCase's fields), as they stand now."""
        return self.model_dump(mode=mode, include=SUBMITTED)

    def visible_to(self, firm_id: str) -> bool:
        return firm_id in self.participant_firms

    def known_to(self, firm_id: str) -> bool:
        """A participant, or a firm asked to confirm a side (it may answer)."""
        return self.visible_to(firm_id) or bool(self.pending_for(firm_id))

    def mediated_by(self, mediator_id: str | None) -> bool:
        return self.mediator.mediator_id == mediator_id

    @property
    def due(self) -> datetime | None:
        """The earliest moment a side still awaiting confirmation is to be raised (SideConfirmationOverdue)."""
        if self.status != "open" or not self.overdue_candidates():
            return None
        return self.session.start - timedelta(days=self.policy.confirmation_due_days)

    def overdue_candidates(self) -> list[Side]:
        return [s for s in self.sides if s.status is SideStatus.AWAITING_CONFIRMATION
                and _overdue_key(s) not in self.overdue_raised]

    def opened(self) -> CaseOpened:
        return CaseOpened(case_id=self.case_id, firm_id=self.firm_id, external_ref=self.external_ref,
                          title=self.title, mediator=self.mediator, session=self.session, parties=self.parties,
                          policy=self.policy, participant_firms=self.participant_firms, sides=self.sides)

    def updated(self, party_ids: list[str] = ()) -> CaseUpdated:
        return CaseUpdated(case_id=self.case_id, firm_id=self.firm_id, revision=self.revision,
                           changes=list(self.changes), session=self.session, parties=self.parties,
                           participant_firms=self.participant_firms, sides=self.sides, party_ids=list(party_ids))

    def withdrawn(self, reason: str) -> CaseWithdrawn:
        return CaseWithdrawn(case_id=self.case_id, firm_id=self.firm_id, reason=reason,
                             participant_firms=self.participant_firms)

    def representation_requested(self, side: Side) -> RepresentationRequested:
        party = self.party(side.party_id)
        return RepresentationRequested(case_id=self.case_id, firm_id=side.firm_id, party_id=side.party_id,
                                       role=side.role, party_name=party.contact.name,
                                       mediator_name=self.mediator.name, session=self.session,
                                       requested_at=side.since)


Changed = tuple[Case, "Message | list[Message]"]


def _overdue_key(side: Side) -> str:
    return f"{side.party_id}@{side.since.isoformat()}"


def decided_side(party: Party, submitter: str, now: datetime) -> Side:
    """A party's side as submitted: its attorney of the submitting firm is confirmed at once; another firm's, or no
    attorney at all (the mediator confirms the contact), awaits confirmation."""
    firm = party.attorney.firm_id if party.attorney else None
    if firm == submitter:
        return Side(party_id=party.party_id, role=party.role, firm_id=firm, status=SideStatus.CONFIRMED, since=now,
                    confirmed_by="submitter")
    return Side(party_id=party.party_id, role=party.role, firm_id=firm, status=SideStatus.AWAITING_CONFIRMATION,
                since=now)


def requests_for(case: Case, sides: list[Side]) -> list[RepresentationRequested]:
    return [case.representation_requested(s) for s in sides
            if s.status is SideStatus.AWAITING_CONFIRMATION and s.firm_id]


def stored_case(document: dict[str, Any], now: datetime | None = None) -> Case:
    """A stored case in any shape: intake's own (schema 3, with sides), schema 2 without sides (every side
    confirmed by the submitter, since the case's creation), or the first one, which kept the SubmitCase as a whole
    under "submission" (migrated on read; the next write stores schema 3)."""
    fields = {key: value for key, value in document.items()
              if key not in ("_id", "schema", "submission", "due", "created_at", "updated_at")}
    if "submission" in document:
        fields = {**document["submission"], **fields}
        fields.setdefault("policy", SchedulingPolicy().model_dump(mode="json"))
    if not fields.get("sides"):
        since = document.get("created_at") or now or datetime.now(UTC)
        if isinstance(since, datetime) and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        fields["sides"] = [
            {"party_id": p["party_id"], "role": p["role"], "status": "confirmed", "since": since,
             "firm_id": (p.get("attorney") or {}).get("firm_id"), "confirmed_by": "submitter"}
            for p in fields.get("parties", [])]
    return Case.model_validate({**fields, "case_id": document["_id"]})


def case_document(case: Case) -> dict[str, Any]:
    """The stored document; `due` (earliest pending confirmation deadline) is a datetime, for the sweeper's index."""
    return {"_id": case.case_id, "schema": SCHEMA, **case.model_dump(mode="json", exclude={"case_id"}),
            "due": case.due}


def open_case(firm_id: str, submission: SubmitCase, now: datetime) -> Case:
    check_submission(submission, now)
    return Case(case_id=case_id_for(firm_id, submission.external_ref), firm_id=firm_id,
                sides=[decided_side(p, firm_id, now) for p in submission.parties],
                **{name: getattr(submission, name) for name in SubmitCase.model_fields})


def opening(case: Case) -> list[Message]:
    """What opening a case emits: CaseOpened, and a RepresentationRequested to each firm asked to confirm."""
    return [case.opened(), *requests_for(case, case.sides)]


def resubmitted(existing: Case, submitted: Case) -> Case:
    """The same submission again is its case; the same reference with other content is refused."""
    if existing.submitted() != submitted.submitted():
        raise Rejected([Reason(field="external_ref", message=f"{submitted.external_ref!r} already names "
                                                             f"case {existing.case_id} with different content")])
    return existing


def rejection(firm_id: str, document: object, problems: list[Reason]) -> CaseRejected:
    reference = document.get("external_ref") if isinstance(document, dict) else None
    return CaseRejected(firm_id=firm_id, external_ref=text_of(reference, 128) if reference else "", reasons=problems)


def command_rejected(firm_id: str, command_id: str, command_type: str, case_id: object, problems: list[Reason],
                     now: datetime, dead_letter_topic: str | None = None, record: str | None = None) -> CommandRejected:
    case = case_id if isinstance(case_id, str) and len(case_id) <= 128 else ""
    return CommandRejected(firm_id=firm_id, command_id=text_of(command_id, 200),
                           command_type=text_of(command_type, 200),
                           case_id=case, reasons=problems or [Reason(field="", message="refused")],
                           dead_letter_topic=dead_letter_topic, record=record, rejected_at=now)


def change_case(case: Case, by_firm: str, now: datetime, *, session: Session | None = None,
                add_parties: list[Party] = ()) -> Changed:
    _require_open_and_owned(case, by_firm, "change")
    changes, update, problems = [], {}, []
    if session is not None and session != case.session:
        problems += _session_problems(session, now, "session")
        update, changes = {"session": session}, ["session_moved"]
    new_sides: list[Side] = []
    if add_parties:
        parties = [*case.parties, *add_parties]
        problems += _party_problems(parties)
        new_sides = [decided_side(p, case.firm_id, now) for p in add_parties]
        update, changes = {**update, "parties": parties, "sides": [*case.sides, *new_sides]}, [*changes, "party_added"]
    if problems:
        raise Rejected(problems)
    if not changes:
        raise Rejected([Reason(field="", message="nothing to change: give a different session or new parties")])
    changed = case.model_copy(update={**update, "revision": case.revision + 1, "changes": tuple(changes)})
    return changed, [changed.updated([p.party_id for p in add_parties]), *requests_for(changed, new_sides)]


def change_availability(case: Case, by_firm: str | None, party_id: str, availability: list[WeeklyWindow],
                        unavailable: list[DateWindow], *, by_mediator: str | None = None) -> Changed:
    """Only the side's own confirmed firm, or the case's mediator, changes a party's availability."""
    problems = _window_problems(availability, "availability") + _date_problems(unavailable, "unavailable")
    party, side = case.party(party_id), case.side(party_id)
    if case.status != "open":
        raise NotAllowed(f"case {case.case_id} is {case.status}", problems)
    if party is None:
        raise Rejected([Reason(field="party_id", message=f"case {case.case_id} has no party {party_id!r}"),
                        *problems])
    if not _may_act_for(case, side, by_firm, by_mediator):
        raise NotAllowed(f"firm {by_firm} is not the confirmed firm of party {party_id}", problems)
    if problems:
        raise Rejected(problems)
    moved = party.model_copy(update={"availability": availability, "unavailable": unavailable})
    changed = case.model_copy(update={"parties": _replaced(case.parties, moved),
                                      "revision": case.revision + 1, "changes": ("availability_changed",)})
    return changed, changed.updated([party_id])


def _may_act_for(case: Case, side: Side | None, by_firm: str | None, by_mediator: str | None) -> bool:
    if by_mediator is not None:
        return case.mediated_by(by_mediator)
    return (side is not None and side.status is SideStatus.CONFIRMED and side.firm_id is not None
            and side.firm_id == by_firm)


def accept_representation(case: Case, by_firm: str, command: AcceptRepresentation, now: datetime) -> Changed:
    """The named firm confirms it represents the party, with its corrections. Again from the same firm: the same
    answer, and no event unless it corrects something more."""
    side, party = case.side(command.party_id), case.party(command.party_id)
    problems = _correction_problems(command, by_firm)
    if case.status != "open":
        raise NotAllowed(f"case {case.case_id} is {case.status}", problems)
    if side is None or party is None:
        raise Rejected([Reason(field="party_id", message=f"case {case.case_id} has no party {command.party_id!r}"),
                        *problems])
    if side.firm_id != by_firm:
        raise NotAllowed(f"firm {by_firm} was not asked to represent party {command.party_id}", problems)
    if side.status is SideStatus.DECLINED:
        raise NotAllowed(f"firm {by_firm} declined party {command.party_id}; the mediator may confirm it", problems)
    if problems:
        raise Rejected(problems)
    corrected = _corrected(party, contact=command.contact, time_zone=command.time_zone,
                           availability=command.availability, unavailable=command.unavailable,
                           attorney=command.attorney)
    changes = []
    if side.status is not SideStatus.CONFIRMED:
        changes.append("side_confirmed")
        side = side.model_copy(update={"status": SideStatus.CONFIRMED, "since": now, "confirmed_by": "firm"})
    if corrected != party:
        changes.append("side_corrected")
    if not changes:
        return case, []
    changed = case.model_copy(update={"parties": _replaced(case.parties, corrected),
                                      "sides": _replaced(case.sides, side),
                                      "revision": case.revision + 1, "changes": tuple(changes)})
    return changed, changed.updated([command.party_id])


def decline_representation(case: Case, by_firm: str, party_id: str, now: datetime) -> Changed:
    side = case.side(party_id)
    if case.status != "open":
        raise NotAllowed(f"case {case.case_id} is {case.status}")
    if side is None:
        raise Rejected([Reason(field="party_id", message=f"case {case.case_id} has no party {party_id!r}")])
    if side.firm_id != by_firm:
        raise NotAllowed(f"firm {by_firm} was not asked to represent party {party_id}")
    if side.status is SideStatus.DECLINED:
        return case, []
    if side.status is SideStatus.CONFIRMED:
        raise NotAllowed(f"firm {by_firm} already confirmed party {party_id}")
    declined = side.model_copy(update={"status": SideStatus.DECLINED, "since": now, "confirmed_by": None})
    changed = case.model_copy(update={"sides": _replaced(case.sides, declined), "revision": case.revision + 1,
                                      "changes": ("side_declined",)})
    return changed, changed.updated([party_id])


def confirm_by_mediator(case: Case, mediator_id: str | None, party_id: str, now: datetime, *,
                        contact: Contact | None = None, time_zone: str | None = None,
                        availability: list[WeeklyWindow] | None = None,
                        unavailable: list[DateWindow] | None = None) -> Changed:
    """The case's mediator confirms an unrepresented (or declined) side's contact."""
    side, party = case.side(party_id), case.party(party_id)
    problems = (_window_problems(availability or [], "availability")
                + _date_problems(unavailable or [], "unavailable"))
    if not case.mediated_by(mediator_id):
        raise NotAllowed(f"only the case's mediator confirms a side of case {case.case_id}", problems)
    if case.status != "open":
        raise NotAllowed(f"case {case.case_id} is {case.status}", problems)
    if side is None or party is None:
        raise Rejected([Reason(field="party_id", message=f"case {case.case_id} has no party {party_id!r}"),
                        *problems])
    if side.status is SideStatus.AWAITING_CONFIRMATION and side.firm_id is not None:
        raise NotAllowed(f"party {party_id} awaits firm {side.firm_id}'s answer", problems)
    if problems:
        raise Rejected(problems)
    corrected = _corrected(party, contact=contact, time_zone=time_zone, availability=availability,
                           unavailable=unavailable)
    changes = []
    if side.status is not SideStatus.CONFIRMED:
        changes.append("side_confirmed")
        # a declined firm no longer represents the party: the mediator confirms it unrepresented
        side = side.model_copy(update={"status": SideStatus.CONFIRMED, "since": now, "confirmed_by": "mediator",
                                       "firm_id": None if side.status is SideStatus.DECLINED else side.firm_id})
        if corrected.attorney and side.firm_id is None:
            corrected = corrected.model_copy(update={"attorney": None})
    if corrected != party:
        changes.append("side_corrected")
    if not changes:
        return case, []
    changed = case.model_copy(update={"parties": _replaced(case.parties, corrected),
                                      "sides": _replaced(case.sides, side),
                                      "revision": case.revision + 1, "changes": tuple(changes)})
    return changed, changed.updated([party_id])


def raise_overdue(case: Case, now: datetime) -> Changed:
    """Each side still awaiting confirmation once its deadline has come: SideConfirmationOverdue, once."""
    due = case.due
    if due is None or due > now:
        return case, []
    sides = case.overdue_candidates()
    changed = case.model_copy(update={"overdue_raised": (*case.overdue_raised, *map(_overdue_key, sides)),
                                      "revision": case.revision + 1, "changes": ()})
    return changed, [SideConfirmationOverdue(case_id=case.case_id, mediator_id=case.mediator.mediator_id,
                                             party_id=s.party_id, firm_id=s.firm_id, awaiting_since=s.since,
                                             session_start=case.session.start) for s in sides]


def overdue_event_id(case: Case, message: SideConfirmationOverdue) -> str:
    return derived_id(case.case_id, "overdue", message.party_id, message.awaiting_since.isoformat())


def _corrected(party: Party, *, contact: Contact | None = None, time_zone: str | None = None,
               availability: list[WeeklyWindow] | None = None, unavailable: list[DateWindow] | None = None,
               attorney: Attorney | None = None) -> Party:
    update = {name: value for name, value in (("contact", contact), ("time_zone", time_zone),
                                               ("availability", availability), ("unavailable", unavailable),
                                               ("attorney", attorney)) if value is not None}
    return party.model_copy(update=update) if update else party


def _correction_problems(command: AcceptRepresentation, by_firm: str) -> list[Reason]:
    problems = _window_problems(command.availability or [], "availability")
    problems += _date_problems(command.unavailable or [], "unavailable")
    if command.attorney is not None:
        if command.attorney.firm_id != by_firm:
            problems.append(Reason(field="attorney.firm_id",
                                   message=f"the attorney must be of the accepting firm {by_firm}"))
        problems += _window_problems(command.attorney.availability, "attorney.availability")
        problems += _date_problems(command.attorney.unavailable, "attorney.unavailable")
    return problems


def _date_problems(windows: list[DateWindow], where: str) -> list[Reason]:
    return [Reason(field=f"{where}.{n}.end", message="a window must end after it starts")
            for n, window in enumerate(windows) if window.end <= window.start]


def _replaced(items: list, item) -> list:
    return [item if current.party_id == item.party_id else current for current in items]


def withdraw(case: Case, by_firm: str, reason: str = "") -> Changed:
    _require_open_and_owned(case, by_firm, "withdraw")
    changed = case.model_copy(update={"status": "withdrawn", "revision": case.revision + 1, "changes": ()})
    return changed, changed.withdrawn(reason)


def change_event_id(command_key: str, changed: Case, index: int = 0) -> str:
    """A change's event id, from the command that caused it: its redelivery derives the same id."""
    if index:
        return derived_id(command_key, changed.case_id, str(changed.revision), str(index))
    return derived_id(command_key, changed.case_id, str(changed.revision))


def opened_event_id(case: Case, index: int = 0) -> str:
    return derived_id(case.case_id, "opened", str(index)) if index else derived_id(case.case_id, "opened")


def rejection_event_id(command_key: str) -> str:
    return derived_id(command_key, "rejected")


def _require_open_and_owned(case: Case, by_firm: str, action: str) -> None:
    if case.firm_id != by_firm:
        raise NotAllowed(f"only the submitting firm may {action} case {case.case_id}")
    if case.status != "open":
        raise NotAllowed(f"case {case.case_id} is {case.status}")


# -- what each reader sees ------------------------------------------------------------------------


def firm_view(case: Case, firm_id: str) -> dict[str, Any] | None:
    """A firm's view of the case (JSON): the case-level facts, its own confirmed sides' parties, and for the
    submitting firm the title and every other side as its Side entry only. A firm only asked to confirm a side sees
    the case-level facts, its pending Side entries and those parties' names and roles. Anyone else: None."""
    own = case.own_sides(firm_id)
    submitter = firm_id == case.firm_id
    pending = case.pending_for(firm_id)
    if not (submitter or own or pending):
        return None
    view = _case_facts(case)
    if submitter or own:
        mine = {s.party_id for s in own}
        view["parties"] = [p.model_dump(mode="json") for p in case.parties if p.party_id in mine]
        view["sides"] = [s.model_dump(mode="json") for s in (case.sides if submitter else own)]
        if submitter:
            view |= {"title": case.title, "firm_id": case.firm_id, "participant_firms": case.participant_firms,
                     "policy": case.policy.model_dump(mode="json")}
    else:
        view["parties"] = []
    view["sides"] = view.get("sides", []) + [s.model_dump(mode="json") for s in pending
                                              if not submitter]
    view["pending"] = [{"party_id": s.party_id, "role": s.role.value, "name": case.party(s.party_id).contact.name}
                       for s in pending]
    return view


def full_view(case: Case) -> dict[str, Any]:
    """The mediator's and the operator's view: everything."""
    return {"case_id": case.case_id, "firm_id": case.firm_id, "status": case.status, "revision": case.revision,
            "participant_firms": case.participant_firms, "sides": [s.model_dump(mode="json") for s in case.sides],
            **case.submitted("json")}


def _case_facts(case: Case) -> dict[str, Any]:
    return {"case_id": case.case_id, "external_ref": case.external_ref, "status": case.status,
            "revision": case.revision, "session": case.session.model_dump(mode="json"),
            "mediator": {"mediator_id": case.mediator.mediator_id, "name": case.mediator.name,
                         "time_zone": case.mediator.time_zone}}
