"""Intake's and notes' store adapters: the MongoDB one (on the real server) and the in-memory one of the service
tests keep the same promises; documents stored in the first shape are read, and rewritten in the new one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mednet_intake import domain as intake_domain
from mednet_intake.memory import MemoryCaseStore
from mednet_intake.store import MongoCaseStore
from mednet_notes.domain.case import CaseState, PartyEntry
from mednet_notes.memory import MemoryNotesStore
from mednet_notes.store import MongoNotesStore
from mednet_shared.contracts.envelope import new_event
from mednet_shared.contracts.values import Reason
from mednet_shared.platform.cas import Conflict
from mednet_shared.platform.outbox import OutboxRelay
from sample_cases import submission

NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


class Relay(OutboxRelay):
    """Records what the stores wake it with; never started."""

    def __init__(self) -> None:
        self.woken: list[tuple[str, str, list]] = []

    def wake(self, collection, document_id, pending=None) -> None:
        self.woken.append((collection, document_id, pending))


def a_case(reference: str = "ref-1") -> intake_domain.Case:
    return intake_domain.open_case("firm-x", intake_domain.parse_submission(submission(reference, now=NOW)), NOW)


@pytest.fixture(params=["mongodb", "memory"])
def intake_store(request):
    if request.param == "memory":
        return MemoryCaseStore()
    return MongoCaseStore(request.getfixturevalue("db"), Relay())


@pytest.fixture(params=["mongodb", "memory"])
def notes_store(request):
    if request.param == "memory":
        return MemoryNotesStore()
    return MongoNotesStore(request.getfixturevalue("db"), Relay())


async def test_an_intake_case_is_unique_changed_only_from_the_revision_read_and_rejected_once(intake_store):
    case = a_case()
    opened = new_event(case.opened(), "/tests")
    assert await intake_store.add(case, [opened]) and not await intake_store.add(case, [opened])
    assert await intake_store.get(case.case_id) == case
    withdrawn, message = intake_domain.withdraw(case, "firm-x", "settled")
    await intake_store.replace(withdrawn, 1, [new_event(message, "/tests")])
    with pytest.raises(Conflict):
        await intake_store.replace(withdrawn, 1, [])
    assert (await intake_store.get(case.case_id)).status == "withdrawn"
    rejected = new_event(intake_domain.rejection("firm-x", {}, [Reason(field="title", message="missing")]), "/tests")
    await intake_store.reject("cause-1", rejected)
    await intake_store.reject("cause-1", rejected)
    if isinstance(intake_store, MemoryCaseStore):
        assert [e.type for e in intake_store.outbox.events()] == [
            "mednet.CaseOpened.v1", "mednet.CaseWithdrawn.v1", "mednet.CaseRejected.v1"]
    else:
        assert [(c, len(p)) for c, _, p in intake_store.relay.woken] == [("cases", 1), ("cases", 2), ("rejections", 1)]


async def test_an_intake_case_of_the_first_shape_is_read_and_its_next_write_stores_intakes_own(db):
    store, case = MongoCaseStore(db, Relay()), a_case()
    first_shape = {"_id": case.case_id, "firm_id": "firm-x", "revision": 1, "status": "open", "changes": [],
                   "submission": case.submitted("json"), "created_at": NOW}
    await store.cases.insert_one(first_shape)
    read = await store.get(case.case_id)
    # a case from before sides existed reads with every side confirmed (the shared design), else as it was
    assert all(side.status == "confirmed" for side in read.sides) and len(read.sides) == len(case.parties)
    assert read == case.model_copy(update={"sides": read.sides})
    case = read
    withdrawn, _ = intake_domain.withdraw(case, "firm-x")
    await store.replace(withdrawn, 1, [])
    stored = await store.cases.find_one({"_id": case.case_id})
    assert "submission" not in stored and stored["schema"] == intake_domain.SCHEMA and stored["title"] == case.title
    assert await store.get(case.case_id) == withdrawn


async def test_a_notes_case_is_created_once_and_changed_only_from_the_version_read(notes_store):
    state = CaseState(case_id="case-1", version=1, mediator_id="med-1", parties=[PartyEntry(party_id="p1",
                                                                                           role="claimant")])
    await notes_store.save_case(state, None, [])
    with pytest.raises(Conflict):
        await notes_store.save_case(state, None, [])
    await notes_store.save_case(state.model_copy(update={"version": 2, "revision": 3}), 1, [])
    with pytest.raises(Conflict):
        await notes_store.save_case(state.model_copy(update={"version": 2}), 1, [])
    assert (await notes_store.case("case-1")).revision == 3 and await notes_store.case("case-2") is None


async def test_notes_case_keys_the_first_wins_a_purge_keeps_only_when_and_a_rewrap_is_conditional(notes_store):
    first = {"master_key_id": "m1", "nonce": b"n" * 12, "wrapped_key": b"first"}
    second = {"master_key_id": "m1", "nonce": b"n" * 12, "wrapped_key": b"second"}
    assert (await notes_store.add_case_key("case-1", first))["wrapped_key"] == b"first"
    assert (await notes_store.add_case_key("case-1", second))["wrapped_key"] == b"first"
    await notes_store.add_case_key("case-2", first)
    assert sorted(await notes_store.cases_wrapped_by_other_keys("m2")) == ["case-1", "case-2"]
    assert not await notes_store.replace_case_key("case-1", second, {**second, "master_key_id": "m2"})
    assert await notes_store.replace_case_key("case-1", first, {**second, "master_key_id": "m2"})
    assert await notes_store.cases_wrapped_by_other_keys("m2") == ["case-2"]
    purged = await notes_store.purge_case_key("case-2")
    assert "wrapped_key" not in purged and purged["purged_at"]
    assert await notes_store.cases_wrapped_by_other_keys("m3") == ["case-1"]


async def test_notes_are_resealed_only_if_unchanged_and_a_purge_deletes_what_no_case_key_seals(notes_store):
    old = {"key_id": "k1", "nonce": b"n" * 12, "ciphertext": b"old"}
    await notes_store.save_note("case-1:p1", "case-1", "p1", old)
    await notes_store.save_note("case-1:p2", "case-1", "p2", {**old, "key_id": "case-data-key"})
    assert not await notes_store.reseal_note("case-1:p1", {**old, "ciphertext": b"other"}, old)
    assert await notes_store.reseal_note("case-1:p1", old, {**old, "ciphertext": b"new"})
    assert (await notes_store.note("case-1:p1"))["sealed"]["ciphertext"] == b"new"
    assert await notes_store.delete_notes_not_sealed_with("case-1", "case-data-key") == 1
    assert await notes_store.notes_of_case("case-1") == 1


async def test_notes_statements_documents_and_rejections_are_written_once(notes_store):
    sealed = {"key_id": "case-data-key", "nonce": b"n" * 12, "ciphertext": b"first"}
    await notes_store.save_statement("st-1", "case-1", "p1", sealed)
    await notes_store.save_statement("st-1", "case-1", "p1", {**sealed, "ciphertext": b"second"})
    assert (await notes_store.statement("st-1"))["sealed"]["ciphertext"] == b"first"
    assert await notes_store.statement("st-2") is None
    big = bytes(range(256)) * 2000  # several GridFS chunks
    await notes_store.put_document("doc-1", "case-1", big)
    await notes_store.put_document("doc-1", "case-1", b"other")
    assert await notes_store.document("doc-1") == big and await notes_store.document("doc-2") is None
    from mednet_shared.contracts.events import CommandRejected
    rejected = new_event(CommandRejected(firm_id="firm-b", command_id="c-1", command_type="mednet.SubmitStatement.v1",
                                         reasons=[Reason(field="party_id", message="not yours")], rejected_at=NOW),
                         "/tests", event_id="rej-1")
    await notes_store.reject("rej-1", rejected)
    await notes_store.reject("rej-1", rejected)
    if isinstance(notes_store, MemoryNotesStore):
        assert [e.id for e in notes_store.outbox.events()] == ["rej-1"]
    else:
        assert [(c, len(p)) for c, _, p in notes_store.relay.woken] == [("rejections", 1)]


async def test_a_cases_statements_and_document_files_are_deleted_with_every_chunk_and_no_other_cases(notes_store):
    sealed = {"key_id": "case-data-key", "nonce": b"n" * 12, "ciphertext": b"sealed"}
    big = bytes(range(256)) * 2000  # several GridFS chunks
    for case_id in ("case-1", "case-2"):
        await notes_store.save_statement(f"st-{case_id}", case_id, "p1", sealed)
        for n in range(2):
            await notes_store.put_document(f"doc-{case_id}-{n}", case_id, big)
    assert await notes_store.delete_statements_of_case("case-1") == 1
    assert await notes_store.delete_documents_of_case("case-1") == 2
    assert await notes_store.delete_documents_of_case("case-1") == 0
    assert await notes_store.statement("st-case-1") is None and await notes_store.document("doc-case-1-0") is None
    assert await notes_store.statement("st-case-2") and await notes_store.document("doc-case-2-1") == big
    if isinstance(notes_store, MongoNotesStore):
        database = notes_store.statements.database
        files, chunks = database["documents.files"], database["documents.chunks"]
        kept = [f["_id"] for f in await files.find({}).to_list()]
        assert kept == ["doc-case-2-0", "doc-case-2-1"]
        assert {c["files_id"] for c in await chunks.find({}, {"files_id": 1}).to_list()} == set(kept)
