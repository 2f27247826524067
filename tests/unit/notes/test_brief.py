from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from mednet_notes.domain import (
    Brief,
    CallNotes,
    PartyObjectives,
    are_compatible,
    build_brief,
    issue_key,
)
from mednet_shared.contracts.values import Amount, Objective, ObjectiveIssue, Stance

GROUP_ORDER = ["shared_interest", "trade_off", "one_sided", "open_issue", "hard_conflict"]


def stated(issue: str, priority: int, stance: str = "wants", *, minimum=None, maximum=None, currency="EUR",
           free=None, shareable=False, wants="as discussed") -> Objective:
    amount = None
    if minimum is not None or maximum is not None:
        amount = Amount(minimum=minimum, maximum=maximum, currency=currency)
    return Objective(issue=issue, free_issue=free, wants=wants, stance=stance, amount=amount, priority=priority,
                     shareable=shareable)


def party(party_id: str, role: str, *objectives: Objective) -> PartyObjectives:
    return PartyObjectives(party_id, role, objectives)


def grouped(brief: Brief) -> dict[str, list[str]]:
    return {
        "shared_interest": brief.shared_interests,
        "trade_off": brief.trade_offs,
        "one_sided": brief.one_sided,
        "open_issue": brief.open_issues,
        "hard_conflict": brief.hard_conflicts,
    }


def row(brief: Brief, key: str):
    return next(issue for issue in brief.issues if issue.issue == key)


def employment_dispute() -> Brief:
    claimant = party(
        "p1", "claimant",
        stated("confidentiality", 2),
        stated("apology", 1, wants="a written apology"),
        stated("payment_amount", 1, minimum=40000, shareable=True),
        stated("reference", 2),
        stated("payment_timing", 4, wants="within 14 days"),
        stated("non_disparagement", 5, "willing"),
    )
    respondent = party(
        "p2", "respondent",
        stated("confidentiality", 3),
        stated("apology", 2, "opposes"),
        stated("payment_amount", 1, "willing", maximum=30000),
        stated("reference", 8, "willing"),
        stated("payment_timing", 5, wants="in twelve monthly instalments"),
        stated("non_disparagement", 4),
    )
    return build_brief("case-7", [claimant, respondent])


def test_an_employment_dispute_is_classified_issue_by_issue():
    brief = employment_dispute()
    assert brief.case_id == "case-7" and brief.parties == ["p1", "p2"]
    assert grouped(brief) == {
        "shared_interest": ["confidentiality", "non_disparagement"],
        "trade_off": ["reference"],
        "one_sided": [],
        "open_issue": ["payment_timing"],
        "hard_conflict": ["payment_amount", "apology"],
    }


def test_the_agenda_runs_from_what_unites_to_what_divides_and_by_combined_weight_within_a_group():
    brief = employment_dispute()
    assert [(item.issue, item.classification) for item in brief.agenda] == [
        ("confidentiality", "shared_interest"),
        ("non_disparagement", "shared_interest"),
        ("reference", "trade_off"),
        ("payment_timing", "open_issue"),
        ("payment_amount", "hard_conflict"),
        ("apology", "hard_conflict"),
    ]
    assert [issue.issue for issue in brief.issues] == [item.issue for item in brief.agenda]


def test_each_agenda_item_has_a_one_line_rationale_that_names_the_reason():
    agenda = {item.issue: item for item in employment_dispute().agenda}
    assert all(item.rationale and "\n" not in item.rationale for item in agenda.values())
    assert "p1 (priority 1) and p2 (priority 2) both rank it high" in agenda["apology"].rationale
    assert "p1 ranks it 2, p2 ranks it 8" in agenda["reference"].rationale
    assert "compatible" in agenda["confidentiality"].rationale


def test_an_issue_reads_in_the_brief_as_it_reads_in_every_message():
    brief = build_brief("case-1", [party("p1", "claimant", stated("non_monetary_terms", 2),
                                         stated("non_disparagement", 3)),
                                   party("p2", "respondent", stated("non_monetary_terms", 4))])
    assert row(brief, "non_monetary_terms").label == "Non-monetary terms"
    assert row(brief, "non_disparagement").label == "Non-disparagement"


def test_issue_rows_put_the_positions_side_by_side_in_party_order():
    amount = row(employment_dispute(), "payment_amount")
    assert amount.label == "Payment amount"
    assert amount.missing == []
    assert [(p.party_id, p.role, p.stance, p.priority) for p in amount.positions] == [
        ("p1", "claimant", Stance.WANTS, 1),
        ("p2", "respondent", Stance.WILLING, 1),
    ]
    assert amount.positions[0].amount.minimum == 40000 and amount.positions[1].amount.maximum == 30000
    assert row(employment_dispute(), "apology").positions[0].wants == "a written apology"


def test_overlapping_amounts_make_payment_a_shared_interest():
    brief = build_brief("c", [
        party("p1", "claimant", stated("payment_amount", 1, minimum=30000)),
        party("p2", "respondent", stated("payment_amount", 2, "willing", maximum=40000)),
    ])
    assert brief.shared_interests == ["payment_amount"]


def test_disjoint_amounts_between_two_claims_are_a_conflict_even_when_both_say_wants():
    brief = build_brief("c", [
        party("p1", "claimant", stated("payment_amount", 1, minimum=50000)),
        party("p2", "respondent", stated("payment_amount", 2, maximum=40000)),
    ])
    assert brief.hard_conflicts == ["payment_amount"]


def test_an_issue_raised_by_one_party_is_one_sided_with_its_priority_never_a_trade_off():
    brief = build_brief("c", [
        party("p1", "claimant", stated("reference", 1)),
        party("p2", "respondent", stated("confidentiality", 2, "opposes")),
    ])
    assert brief.one_sided == ["reference", "confidentiality"] and brief.trade_offs == []
    assert [item.classification for item in brief.agenda] == ["one_sided", "one_sided"]
    assert "only p1 raised it (wants, priority 1)" in brief.agenda[0].rationale
    assert "only p2 raised it (opposes, priority 2)" in brief.agenda[1].rationale
    [position] = row(brief, "reference").positions
    assert (position.party_id, position.stance, position.priority) == ("p1", "wants", 1)
    assert row(brief, "reference").missing == ["p2"]
    assert row(brief, "confidentiality").missing == ["p1"]
    assert brief.shared_interests == []


def test_a_free_issue_is_keyed_by_its_name_whatever_its_case_and_spacing():
    brief = build_brief("c", [
        party("p1", "claimant", stated("other", 3, free="Return of  laptop"), stated("other", 6, free="Parking")),
        party("p2", "respondent", stated("other", 4, "willing", free="  return of LAPTOP ")),
    ])
    assert brief.shared_interests == ["other:return of laptop"]
    assert brief.one_sided == ["other:parking"] and brief.trade_offs == []
    assert row(brief, "other:return of laptop").label == "Return of  laptop"
    assert len(row(brief, "other:return of laptop").positions) == 2


def three_party_dispute(**thresholds) -> Brief:
    return build_brief("c", [
        party("claimant", "claimant",
              stated("payment_amount", 1, minimum=50000), stated("confidentiality", 2), stated("apology", 4),
              stated("costs", 6)),
        party("employer", "respondent",
              stated("payment_amount", 3, "willing", maximum=20000), stated("confidentiality", 3),
              stated("apology", 5, "opposes"), stated("costs", 2)),
        party("insurer", "other",
              stated("payment_amount", 9, "willing", maximum=60000), stated("confidentiality", 4),
              stated("costs", 7)),
    ], **thresholds)


def test_three_parties_are_classified_over_every_pair():
    brief = three_party_dispute()
    assert grouped(brief) == {
        "shared_interest": ["confidentiality"],
        "trade_off": ["costs"],
        "one_sided": [],
        "open_issue": ["apology"],
        "hard_conflict": ["payment_amount"],
    }
    assert row(brief, "apology").missing == ["insurer"]
    assert [p.party_id for p in row(brief, "costs").positions] == ["claimant", "employer", "insurer"]


def test_a_clash_both_sides_rank_high_stays_hard_even_when_a_third_party_barely_cares():
    payment = row(three_party_dispute(), "payment_amount")
    assert max(p.priority for p in payment.positions) - min(p.priority for p in payment.positions) >= 4
    assert payment.classification == "hard_conflict"


def test_the_thresholds_change_the_classification():
    assert three_party_dispute(high_priority=2).hard_conflicts == []
    assert three_party_dispute(high_priority=2).trade_offs == ["payment_amount", "costs"]
    assert three_party_dispute(high_priority=5).hard_conflicts == ["payment_amount", "apology"]
    assert three_party_dispute(trade_off_gap=2).trade_offs == ["confidentiality", "costs"]
    assert employment_dispute().trade_offs == ["reference"]
    assert build_brief("c", employment_parties(), trade_off_gap=7).shared_interests == [
        "confidentiality", "non_disparagement", "reference"]


def employment_parties() -> list[PartyObjectives]:
    return [party("p1", "claimant", stated("confidentiality", 2), stated("reference", 2),
                  stated("non_disparagement", 5, "willing")),
            party("p2", "respondent", stated("confidentiality", 3), stated("reference", 8, "willing"),
                  stated("non_disparagement", 4))]


def test_ties_in_weight_are_ordered_by_issue_key():
    brief = build_brief("c", [
        party("p1", "claimant", stated("reference", 2), stated("confidentiality", 2), stated("apology", 2)),
        party("p2", "respondent", stated("reference", 3), stated("confidentiality", 3), stated("apology", 3)),
    ])
    assert brief.shared_interests == ["apology", "confidentiality", "reference"]


def test_only_shareable_objectives_are_presentable():
    brief = build_brief("c", [
        party("p1", "claimant", stated("reference", 2, shareable=True), stated("apology", 1)),
        party("p2", "respondent", stated("reference", 3), stated("apology", 2, "opposes", shareable=True)),
    ])
    assert [p.presentable for p in row(brief, "reference").positions] == [True, False]
    assert [p.presentable for p in row(brief, "apology").positions] == [False, True]


@pytest.mark.parametrize(("first", "second", "compatible"), [
    (stated("confidentiality", 1), stated("confidentiality", 1), True),
    (stated("apology", 1), stated("apology", 1), True),
    (stated("reference", 1), stated("reference", 1, "willing"), True),
    (stated("apology", 1), stated("apology", 1, "opposes"), False),
    (stated("apology", 1, "willing"), stated("apology", 1, "opposes"), False),
    (stated("apology", 1, "opposes"), stated("apology", 1, "opposes"), True),
    (stated("payment_amount", 1), stated("payment_amount", 1), False),
    (stated("costs", 1), stated("costs", 1), False),
    (stated("payment_timing", 1), stated("payment_timing", 1), False),
    (stated("payment_amount", 1), stated("payment_amount", 1, "willing"), True),
    (stated("payment_amount", 1, minimum=50000), stated("payment_amount", 1, maximum=40000), False),
    (stated("payment_amount", 1, minimum=30000), stated("payment_amount", 1, maximum=40000), True),
    (stated("payment_amount", 1, minimum=40000), stated("payment_amount", 1, "willing", maximum=30000), False),
    (stated("payment_amount", 1, minimum=40000), stated("payment_amount", 1, "willing", maximum=40000), True),
    (stated("costs", 1, minimum=10, maximum=20), stated("costs", 1, "willing", minimum=25, maximum=30), False),
    (stated("payment_amount", 1, minimum=40000), stated("payment_amount", 1, "willing"), True),
    (stated("payment_amount", 1, minimum=50000), stated("payment_amount", 1, maximum=40000, currency="USD"),
     False),
    (stated("payment_amount", 1, minimum=50000),
     stated("payment_amount", 1, "willing", maximum=40000, currency="USD"), True),
    (stated("payment_amount", 1).model_copy(update={"amount": Amount()}),
     stated("payment_amount", 1).model_copy(update={"amount": Amount()}), False),
    (stated("payment_amount", 1, "opposes", minimum=1), stated("payment_amount", 1, "opposes", maximum=2), True),
])
def test_compatibility_of_two_positions(first, second, compatible):
    assert are_compatible(first, second) is compatible
    assert are_compatible(second, first) is compatible


def test_issue_keys_name_the_issue_or_the_free_issue():
    assert issue_key(stated("payment_amount", 1)) == "payment_amount"
    assert issue_key(stated("other", 1, free=" Office  Keys ")) == "other:office keys"
    with pytest.raises(ValueError, match="free_issue"):
        issue_key(stated("other", 1))


def test_a_party_named_twice_or_an_issue_named_twice_by_one_party_is_refused():
    with pytest.raises(ValueError, match="p1"):
        build_brief("c", [party("p1", "claimant"), party("p1", "respondent")])
    with pytest.raises(ValueError, match="party p2 names the issue 'reference' more than once"):
        build_brief("c", [party("p1", "claimant"),
                          party("p2", "respondent", stated("reference", 1), stated("reference", 2))])


def test_a_brief_serialises_to_json():
    assert '"hard_conflicts":["payment_amount","apology"]' in employment_dispute().model_dump_json()


def notes(**body) -> CallNotes:
    return CallNotes.model_validate(body)


def objective_document(issue: str, **fields) -> dict:
    return {"issue": issue, "wants": "something", "priority": 3, **fields}


def test_call_notes_default_to_empty_observations_and_no_objectives():
    empty = notes()
    assert empty.objectives == [] and empty.observations.free_text == "" and empty.observations.rapport == ""


def test_call_notes_keep_observations_and_objectives():
    recorded = notes(observations={"settlement_range": "40-55k"}, objectives=[objective_document("apology")])
    assert recorded.observations.settlement_range == "40-55k"
    assert recorded.objectives[0].issue is ObjectiveIssue.APOLOGY


def test_an_issue_named_twice_in_one_call_is_refused_by_name():
    with pytest.raises(ValidationError, match="names the issue 'costs' more than once"):
        notes(objectives=[objective_document("costs"), objective_document("costs", priority=5)])


def test_two_free_issues_that_differ_only_in_case_are_the_same_issue():
    with pytest.raises(ValidationError, match="'other:parking'"):
        notes(objectives=[objective_document("other", free_issue="Parking"),
                          objective_document("other", free_issue="parking")])


def test_distinct_free_issues_are_accepted():
    recorded = notes(objectives=[objective_document("other", free_issue="Parking"),
                                 objective_document("other", free_issue="Laptop")])
    assert len(recorded.objectives) == 2


def test_an_other_issue_without_its_name_is_refused():
    with pytest.raises(ValidationError, match="issue 'other' needs a free_issue"):
        notes(objectives=[objective_document("other")])


@pytest.mark.parametrize(("body", "field"), [
    ({"observation": {}}, "observation"),
    ({"observations": {"mood": "tense"}}, "observations.mood"),
])
def test_unknown_fields_are_refused_by_name(body, field):
    with pytest.raises(ValidationError) as error:
        notes(**body)
    [problem] = error.value.errors()
    assert problem["type"] == "extra_forbidden"
    assert ".".join(str(part) for part in problem["loc"]) == field


def test_observations_and_objective_lists_are_bounded():
    with pytest.raises(ValidationError, match="5000"):
        notes(observations={"dynamics": "x" * 5001})
    assert notes(observations={"dynamics": "x" * 5000}).observations.dynamics == "x" * 5000
    many = [objective_document("other", free_issue=f"issue {n}") for n in range(51)]
    with pytest.raises(ValidationError, match="50"):
        notes(objectives=many)
    assert len(notes(objectives=many[:50]).objectives) == 50


POOL = [issue.value for issue in ObjectiveIssue if issue is not ObjectiveIssue.OTHER] + ["other:A", "other:B"]


# Strategies built once: hypothesis validates a strategy on its first draw, and building them per draw cost most of
# the run.
BOUND = st.none() | st.integers(0, 100)
BOUNDS = st.none() | st.tuples(BOUND, BOUND)
PRIORITIES, STANCES = st.integers(1, 10), st.sampled_from(list(Stance))
ISSUE_KEYS = st.lists(st.sampled_from(POOL), unique=True)


@st.composite
def objectives(draw, key: str) -> Objective:
    issue, _, free = key.partition(":")
    minimum, maximum = draw(BOUNDS) or (None, None)
    return stated(issue, draw(PRIORITIES), draw(STANCES), minimum=minimum, maximum=maximum, free=free or None,
                  shareable=draw(st.booleans()))


@st.composite
def disputes(draw) -> list[PartyObjectives]:
    count = draw(st.integers(1, 4))
    roles = ["claimant", "respondent", "other", "other"]
    return [party(f"p{n}", roles[n], *[draw(objectives(key)) for key in draw(ISSUE_KEYS)]) for n in range(count)]


def weight(issue_row) -> int:
    return sum(11 - position.priority for position in issue_row.positions)


@settings(max_examples=300, deadline=None)
@given(disputes(), st.integers(1, 10), st.integers(1, 9))
def test_every_issue_is_classified_once_and_the_agenda_keeps_its_groups_in_order(parties, high, gap):
    brief = build_brief("c", parties, high_priority=high, trade_off_gap=gap)
    raised = {issue_key(objective) for each in parties for objective in each.objectives}
    listed = [key for keys in grouped(brief).values() for key in keys]
    assert sorted(listed) == sorted(raised)
    assert sorted(item.issue for item in brief.agenda) == sorted(raised)
    assert [item.issue for item in brief.agenda] == [issue.issue for issue in brief.issues]
    ranks = [(GROUP_ORDER.index(item.classification), -weight(row(brief, item.issue))) for item in brief.agenda]
    assert ranks == sorted(ranks)
    for classification, keys in grouped(brief).items():
        assert all(row(brief, key).classification == classification for key in keys)


@settings(max_examples=300, deadline=None)
@given(disputes(), st.integers(1, 10), st.integers(1, 9))
def test_each_classification_is_justified_by_the_positions(parties, high, gap):
    brief = build_brief("c", parties, high_priority=high, trade_off_gap=gap)
    for issue in brief.issues:
        by_party = {each.party_id: each for each in parties}
        stated_here = [next(o for o in by_party[p.party_id].objectives if issue_key(o) == issue.issue)
                       for p in issue.positions]
        clashes = [(a, b) for a, b in combinations(stated_here, 2) if not are_compatible(a, b)]
        priorities = [objective.priority for objective in stated_here]
        assert [p.party_id for p in issue.positions] + issue.missing == sorted(
            brief.parties, key=lambda party_id: (party_id in issue.missing, brief.parties.index(party_id)))
        assert [p.presentable for p in issue.positions] == [objective.shareable for objective in stated_here]
        if any(a.priority <= high and b.priority <= high for a, b in clashes):
            assert issue.classification == "hard_conflict"
        elif len(stated_here) == 1:
            assert issue.classification == "one_sided" and issue.missing == [
                party_id for party_id in brief.parties if party_id != issue.positions[0].party_id]
        elif max(priorities) - min(priorities) >= gap:
            assert issue.classification == "trade_off"
        elif not clashes:
            assert issue.classification == "shared_interest"
        else:
            assert issue.classification == "open_issue"
