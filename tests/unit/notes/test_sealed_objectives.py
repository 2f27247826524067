"""What a party wants, in the mediator's words, and its amounts: kept only sealed (terms.py), never in the stored
objectives nor in ObjectivesRecorded, which names the issues, stances and priorities."""

from datetime import UTC, datetime

import pytest

from mednet_notes import terms
from mednet_notes.crypto import SealError
from mednet_notes.domain import case as rules
from mednet_notes.domain.case import CaseState, ObjectiveTerms
from mednet_shared.contracts.events import ObjectivesRecorded
from mednet_shared.contracts.values import Amount, Objective

NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)
KEY = bytes(range(32))
STATED = [Objective(issue="payment_amount", wants="below 30k, quietly", priority=1, stance="willing",
                    amount=Amount(maximum=30000)),
          Objective(issue="other", free_issue="Office keys", wants="back by friday", priority=4, shareable=True)]


def a_case() -> CaseState:
    return CaseState.model_validate({"case_id": "case-1", "mediator_id": "med-1", "revision": 1,
                                     "parties": [{"party_id": "p1", "role": "claimant", "firm_id": "firm-a"}],
                                     "calls": [{"call_id": "case-1:p1", "party_id": "p1", "status": "completed"}]})


def test_the_stored_objectives_and_the_event_keep_issues_stances_and_priorities_but_no_words_or_amounts():
    state, [outgoing] = rules.record_objectives(a_case(), a_case().call("case-1:p1"), STATED, NOW, "token", "digest")
    kept = state.stated("p1")
    assert [(o.wants, o.amount) for o in kept.objectives] == [("", None), ("", None)]
    assert kept.sealed_terms == "token" and kept.terms_digest == "digest"
    event = outgoing.message
    assert isinstance(event, ObjectivesRecorded) and event.party_firm_id == "firm-a"
    assert [(str(o.issue), o.free_issue, str(o.stance), o.priority, o.shareable) for o in event.objectives] == [
        ("payment_amount", None, "willing", 1, False), ("other", "Office keys", "wants", 4, True)]
    dumped = event.model_dump_json()
    assert "30000" not in dumped and "quietly" not in dumped and "friday" not in dumped
    assert rules.with_terms(kept.objectives, rules.terms_of(STATED)) == STATED


def test_terms_must_match_the_objectives_they_were_sealed_with():
    with pytest.raises(ValueError):
        rules.with_terms(STATED, [ObjectiveTerms(wants="x")])
    assert rules.with_terms(STATED, None) == STATED


def test_sealed_terms_open_for_their_case_and_party_only_and_equal_terms_have_equal_digests():
    token, digest = terms.seal_terms(KEY, "case-1", "p1", STATED)
    assert "30000" not in token and "friday" not in token
    assert terms.open_terms(KEY, "case-1", "p1", token) == rules.terms_of(STATED)
    for case_id, party_id in (("case-1", "p2"), ("case-2", "p1")):
        with pytest.raises(SealError):
            terms.open_terms(KEY, case_id, party_id, token)
    again, same = terms.seal_terms(KEY, "case-1", "p1", STATED)
    assert again != token and same == digest
    reworded = [STATED[0].model_copy(update={"wants": "below 25k"}), STATED[1]]
    assert terms.seal_terms(KEY, "case-1", "p1", reworded)[1] != digest
    assert terms.seal_terms(bytes(32), "case-1", "p1", STATED)[1] != digest, "the digest is keyed by the case key"


def test_objectives_with_nothing_confidential_seal_nothing():
    bare = [Objective(issue="apology", wants="", priority=2)]
    assert terms.seal_terms(KEY, "case-1", "p1", bare) == ("", "")
