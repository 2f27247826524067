"""The mediator's call notes and the brief built from every party's stated objectives.

An issue is keyed by its ObjectiveIssue value ("payment_amount"), or for "other" by "other:" and its free issue
in lower case ("other:office keys"). The brief puts each issue's positions side by side and classifies it:

1. hard_conflict  - some pair of positions is incompatible and both of that pair rank it high
                    (priority <= high_priority);
2. one_sided      - raised by one party only: a class of its own (never a trade-off, even when it is that side's
                    first priority), with that side's priority;
3. trade_off      - raised by two or more parties whose priorities differ by trade_off_gap or more (highest minus
                    lowest): the side that cares less can give way in exchange for something else;
4. shared_interest - every pair of positions is compatible;
5. open_issue     - incompatible, not both ranked high, priorities close.

The first rule that applies wins, so a clash both sides care about stays a hard conflict even when a third party
ranks it very differently. See are_compatible for when two positions are compatible.

The agenda starts with what unites the parties and ends with what divides them: shared interests, trade-offs,
one-sided issues (to be heard out), open issues, hard conflicts. Within a group the issue with the greater combined weight comes first, each raising
party adding 11 - priority (so priority 1 adds 10 and priority 10 adds 1); ties go by issue key. The five lists
and the issue rows follow the agenda order. Each issue row gives every raising side's stance and priority.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from mednet_shared.contracts.values import Amount, Objective, ObjectiveIssue, PartyRole, Stance, issue_label

Classification = Literal["shared_interest", "trade_off", "one_sided", "open_issue", "hard_conflict"]
AGENDA_GROUPS: tuple[Classification, ...] = ("shared_interest", "trade_off", "one_sided", "open_issue",
                                             "hard_conflict")
DIVIDED_ISSUES = frozenset({ObjectiveIssue.PAYMENT_AMOUNT, ObjectiveIssue.PAYMENT_TIMING, ObjectiveIssue.COSTS})
LOWEST_PRIORITY = 10

NoteText = Annotated[str, StringConstraints(max_length=5000)]


class Observations(BaseModel):
    """The mediator's private notes on one call; sealed at rest and never shown to any party."""

    model_config = ConfigDict(extra="forbid")

    concerns: NoteText = ""
    interests: NoteText = ""
    underlying_issues: NoteText = ""
    dynamics: NoteText = ""
    rapport: NoteText = ""
    settlement_authority: NoteText = ""
    settlement_range: NoteText = ""
    free_text: NoteText = ""


class CallNotes(BaseModel):
    """What the mediator records after a call with one party: observations and that party's objectives."""

    model_config = ConfigDict(extra="forbid")

    observations: Observations = Observations()
    objectives: list[Objective] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def each_issue_is_named_once(self) -> CallNotes:
        ensure_each_issue_named_once(self.objectives, "the party")
        return self


@dataclass(frozen=True)
class PartyObjectives:
    party_id: str
    role: str
    objectives: tuple[Objective, ...]


class Position(BaseModel):
    party_id: str
    role: PartyRole
    stance: Stance
    wants: str
    priority: int
    amount: Amount | None
    presentable: bool = Field(description="The party allows it to be shown to the other side")


class IssueRow(BaseModel):
    issue: str
    label: str
    positions: list[Position]
    missing: list[str]
    classification: Classification


class AgendaItem(BaseModel):
    issue: str
    label: str
    classification: Classification
    rationale: str


class NotHeard(BaseModel):
    party_id: str
    reason: str = Field(description="why the brief is built without this side: its call was waived, its side "
                                    "declined, or the case completed without its call")


class NotReady(BaseModel):
    party_id: str
    outstanding: list[str] = Field(description="The required readiness items not done yet")


class StatedInterests(BaseModel):
    party_id: str
    interests: str = Field(description="What matters most to the side and why, from its latest statement")
    desired_outcomes: str = ""


class Brief(BaseModel):
    case_id: str
    parties: list[str] = Field(description="The sides that were heard: the brief is built from them")
    issues: list[IssueRow]
    shared_interests: list[str]
    trade_offs: list[str]
    hard_conflicts: list[str]
    open_issues: list[str]
    agenda: list[AgendaItem]
    one_sided: list[str] = Field(default_factory=list, description="Issues raised by one side only")
    not_heard: list[NotHeard] = Field(default_factory=list)
    not_ready: list[NotReady] = Field(default_factory=list, description="Sides not ready for the session, and why")
    stated_interests: list[StatedInterests] = Field(default_factory=list)


def issue_key(objective: Objective) -> str:
    if objective.issue is not ObjectiveIssue.OTHER:
        return objective.issue.value
    if not objective.free_issue:
        raise ValueError("an objective with issue 'other' needs a free_issue naming it")
    return "other:" + " ".join(objective.free_issue.split()).lower()


def ensure_each_issue_named_once(objectives: Iterable[Objective], owner: str) -> None:
    seen: set[str] = set()
    for objective in objectives:
        key = issue_key(objective)
        if key in seen:
            raise ValueError(f"{owner} names the issue {key!r} more than once")
        seen.add(key)


def are_compatible(first: Objective, second: Objective) -> bool:
    """Whether two parties' positions on one issue can both be met.

    - Opposition: a position that opposes is compatible only with another that opposes (both are against it).
    - Amounts: when both positions give a range in the same currency, they are compatible exactly when the ranges
      overlap (a missing minimum is 0, a missing maximum unbounded). A range with neither bound counts as absent.
    - Otherwise, wants + willing and willing + willing are compatible. Wants + wants is compatible for issues both
      sides can have at once (confidentiality, reference, apology, ...), but not for the divided issues
      payment_amount, payment_timing and costs, where one side's gain is the other's loss.
    """
    if Stance.OPPOSES in (first.stance, second.stance):
        return first.stance == second.stance
    if comparable_ranges(first.amount, second.amount):
        return ranges_overlap(first.amount, second.amount)
    both_want = first.stance == second.stance == Stance.WANTS
    return not (both_want and first.issue in DIVIDED_ISSUES)


def comparable_ranges(first: Amount | None, second: Amount | None) -> bool:
    return has_bounds(first) and has_bounds(second) and first.currency == second.currency


def has_bounds(amount: Amount | None) -> bool:
    return amount is not None and (amount.minimum is not None or amount.maximum is not None)


def ranges_overlap(first: Amount, second: Amount) -> bool:
    return max(lower_bound(first), lower_bound(second)) <= min(upper_bound(first), upper_bound(second))


def lower_bound(amount: Amount) -> float:
    return amount.minimum if amount.minimum is not None else 0.0


def upper_bound(amount: Amount) -> float:
    return amount.maximum if amount.maximum is not None else math.inf


Stated = tuple[PartyObjectives, Objective]


@dataclass(frozen=True)
class RaisedIssue:
    key: str
    label: str
    raised: tuple[Stated, ...]

    @property
    def priorities(self) -> list[int]:
        return [objective.priority for _, objective in self.raised]

    @property
    def weight(self) -> int:
        return sum(LOWEST_PRIORITY + 1 - priority for priority in self.priorities)

    def incompatible_pairs(self) -> list[tuple[Stated, Stated]]:
        return [pair for pair in combinations(self.raised, 2) if not are_compatible(pair[0][1], pair[1][1])]


@dataclass(frozen=True)
class Verdict:
    classification: Classification
    rationale: str


def build_brief(
    case_id: str, parties: Sequence[PartyObjectives], high_priority: int = 3, trade_off_gap: int = 4,
    not_heard: Sequence[NotHeard] = (),
) -> Brief:
    ensure_each_party_appears_once(parties)
    for party in parties:
        ensure_each_issue_named_once(party.objectives, f"party {party.party_id}")
    judged = [(issue, classify(issue, high_priority, trade_off_gap)) for issue in raised_issues(parties)]
    judged.sort(key=lambda pair: (AGENDA_GROUPS.index(pair[1].classification), -pair[0].weight, pair[0].key))
    party_ids = [party.party_id for party in parties]
    return Brief(
        case_id=case_id,
        parties=party_ids,
        issues=[issue_row(issue, verdict, party_ids) for issue, verdict in judged],
        shared_interests=keys_classified(judged, "shared_interest"),
        trade_offs=keys_classified(judged, "trade_off"),
        hard_conflicts=keys_classified(judged, "hard_conflict"),
        open_issues=keys_classified(judged, "open_issue"),
        one_sided=keys_classified(judged, "one_sided"),
        not_heard=list(not_heard),
        agenda=[
            AgendaItem(issue=issue.key, label=issue.label, classification=verdict.classification,
                       rationale=verdict.rationale)
            for issue, verdict in judged
        ],
    )


def ensure_each_party_appears_once(parties: Sequence[PartyObjectives]) -> None:
    party_ids = [party.party_id for party in parties]
    repeated = sorted({party_id for party_id in party_ids if party_ids.count(party_id) > 1})
    if repeated:
        raise ValueError(f"parties appear more than once: {', '.join(repeated)}")


def raised_issues(parties: Sequence[PartyObjectives]) -> list[RaisedIssue]:
    by_key: dict[str, list[Stated]] = {}
    for party in parties:
        for objective in party.objectives:
            by_key.setdefault(issue_key(objective), []).append((party, objective))
    return [RaisedIssue(key, issue_label(first.issue, first.free_issue), tuple(raised))
            for key, raised in by_key.items() for first in [raised[0][1]]]


def classify(issue: RaisedIssue, high_priority: int, trade_off_gap: int) -> Verdict:
    clashes = issue.incompatible_pairs()
    clashes_ranked_high = [pair for pair in clashes if all(stated[1].priority <= high_priority for stated in pair)]
    if clashes_ranked_high:
        return hard_conflict(clashes_ranked_high[0])
    if len(issue.raised) == 1:
        party, objective = issue.raised[0]
        return Verdict("one_sided", f"only {party.party_id} raised it ({objective.stance}, priority "
                                    f"{objective.priority}); hear it out before weighing it against the rest")
    if max(issue.priorities) - min(issue.priorities) >= trade_off_gap:
        return Verdict("trade_off", f"{priority_summary(issue)}; the side that cares less can give way "
                                    "in exchange for something it values more")
    if not clashes:
        return Verdict("shared_interest", f"{priority_summary(issue)} and their positions are compatible; "
                                          "agreeing early builds momentum")
    return Verdict("open_issue", f"{priority_summary(issue)}; the positions clash but are not both ranked high, "
                                 "so there is room to explore options")


def hard_conflict(clash: tuple[Stated, Stated]) -> Verdict:
    (first, first_objective), (second, second_objective) = clash
    return Verdict("hard_conflict", f"{first.party_id} (priority {first_objective.priority}) and "
                                    f"{second.party_id} (priority {second_objective.priority}) both rank it high "
                                    "and their positions clash; take it once agreement elsewhere has built trust")


def priority_summary(issue: RaisedIssue) -> str:
    return ", ".join(f"{party.party_id} ranks it {objective.priority}" for party, objective in issue.raised)


def issue_row(issue: RaisedIssue, verdict: Verdict, party_ids: list[str]) -> IssueRow:
    raised_by = {party.party_id for party, _ in issue.raised}
    return IssueRow(
        issue=issue.key,
        label=issue.label,
        positions=[position_of(party, objective) for party, objective in issue.raised],
        missing=[party_id for party_id in party_ids if party_id not in raised_by],
        classification=verdict.classification,
    )


def position_of(party: PartyObjectives, objective: Objective) -> Position:
    return Position(
        party_id=party.party_id,
        role=party.role,
        stance=objective.stance,
        wants=objective.wants,
        priority=objective.priority,
        amount=objective.amount,
        presentable=objective.shareable,
    )


def keys_classified(judged: list[tuple[RaisedIssue, Verdict]], classification: Classification) -> list[str]:
    return [issue.key for issue, verdict in judged if verdict.classification == classification]
