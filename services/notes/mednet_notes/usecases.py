"""Notes' use cases: learn cases and calls from events, record the mediator's notes, build the brief, purge and
rewrap case keys; each reads, lets the domain (domain/case.py) decide, and writes the state with its events.

The private observations are sealed before they reach the store and are never put in an event, a log line or an
error; each case's notes are sealed under its own data key, wrapped by a master key (envelope.py).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from mednet_shared.contracts.envelope import CloudEvent, derived_id, new_event
from mednet_shared.contracts.events import CommandRejected
from mednet_shared.contracts.values import (
    DocumentKind,
    Objective,
    Party,
    ReadinessItem,
    ReceivedDocument,
    Session,
    Side,
    utc_now,
)
from mednet_shared.platform.cas import DEFAULT_POLICY, CasPolicy, compare_and_set

from .crypto import DATA_KEY_ID, NONCE_BYTES, NoteSealer
from .domain import case as rules
from .domain.acting import Actor, SignedLink, acts_for
from .domain.brief import Brief, CallNotes, Observations, StatedInterests
from .domain import preparation as sheet
from .domain import outcome as outcomes
from .domain import readiness
from .domain import statement as statements
from .domain.case import CallStatus, CaseState, Decision, NotesPurged, Outgoing, UnknownCall
from .domain.statement import StatementRefused, StatementText
from .envelope import MasterKeys
from .store import NotesStore
from .terms import open_terms, seal_terms

SOURCE = "/mednet/notes"


class Notes:
    def __init__(self, store: NotesStore, master_keys: MasterKeys, clock: Callable[[], datetime] = utc_now,
                 cas_policy: CasPolicy = DEFAULT_POLICY, max_document_bytes: int = 5 * 1024 * 1024) -> None:
        self.store = store
        self.max_document_bytes = max_document_bytes
        self.master_keys = master_keys
        self.clock = clock
        self.cas_policy = cas_policy

    async def change_case(self, case_id: str, decide: Callable[[CaseState], Decision]) -> CaseState:
        """Read, decide, write the new state and its events if the case is unchanged since (else all again)."""

        async def attempt() -> CaseState:
            stored = await self.store.case(case_id)
            state = stored or CaseState(case_id=case_id)
            decision = decide(state)
            if decision is None:
                return state
            changed, outgoing = decision
            changed = changed.model_copy(update={"version": state.version + 1})
            await self.store.save_case(changed, stored.version if stored else None, [self._event(o) for o in outgoing])
            return changed

        return await compare_and_set(attempt, service="notes", what="case", key=case_id,
                                     policy=self.cas_policy)

    async def learn_case(self, case_id: str, mediator_id: str, revision: int, parties: list[Party],
                         sides: list[Side] | None = None, session: Session | None = None) -> None:
        await self.change_case(case_id, lambda s: readiness.announced(
            s, rules.learn_case(s, mediator_id, revision, parties, self.clock(), sides, session), self.clock()))

    async def learn_call(self, case_id: str, call_id: str, party_id: str, mediator_id: str,
                         status: CallStatus) -> None:
        await self.change_case(case_id, lambda s: readiness.announced(
            s, rules.learn_call(s, call_id, party_id, mediator_id, status, self.clock()), self.clock()))

    async def learn_completion(self, case_id: str, mediator_id: str, call_ids: list[str],
                               waived_call_ids: list[str]) -> None:
        await self.change_case(case_id, lambda s: rules.learn_completion(s, mediator_id, call_ids, waived_call_ids,
                                                                         self.clock()))

    async def record(self, call_id: str, mediator_id: str | None, notes: CallNotes) -> None:
        case_id = rules.case_of_call(call_id)
        call = rules.call_of(await self.store.case(case_id) if case_id else None, call_id, mediator_id)
        rules.ensure_open(call)
        sealer = await self.sealer_of(case_id, create=True)
        sealed = sealer.seal(notes.observations.model_dump_json().encode(), case_id=case_id, call_id=call_id)
        await self.store.save_note(call_id, case_id, call.party_id, sealed)
        if notes.objectives:
            sealed, digest = seal_terms(await self.data_key_of(case_id), case_id, call.party_id, notes.objectives)
            await self.change_case(case_id, lambda s: rules.record_objectives(s, call, notes.objectives,
                                                                              self.clock(), sealed, digest))

    async def read(self, call_id: str, mediator_id: str | None) -> dict:
        case_id = rules.case_of_call(call_id)
        state = await self.store.case(case_id) if case_id else None
        call = rules.call_of(state, call_id, mediator_id)
        note = await self.store.note(call_id)
        observations = Observations()
        if note:
            observations = Observations.model_validate_json(await self._opened(case_id, call_id, note))
        objectives = await self.opened_objectives(state, call.party_id)
        return {"call_id": call_id, "case_id": case_id, "party_id": call.party_id,
                "observations": observations.model_dump(),
                "objectives": [o.model_dump(mode="json") for o in objectives]}

    async def brief(self, case_id: str, mediator_id: str | None) -> Brief:
        state = await self.store.case(case_id)
        rules.brief_of(state, case_id, mediator_id)  # who may read it, and whether it is ready, before any key
        opened = {s.party_id: await self.opened_objectives(state, s.party_id)
                  for s in state.objectives if s.sealed_terms}
        brief = rules.brief_of(state, case_id, mediator_id, opened)
        stated = []
        for party_id in brief.parties:
            latest = statements.latest_statement(state, party_id)
            if latest is not None:
                opened = await self._opened_statement(state, latest)
                if opened["interests"] or opened["desired_outcomes"]:
                    stated.append(StatedInterests(party_id=party_id, interests=opened["interests"],
                                                  desired_outcomes=opened["desired_outcomes"]))
        return brief.model_copy(update={"stated_interests": stated})

    async def opened_objectives(self, state: CaseState, party_id: str) -> list[Objective]:
        """The party's objectives with their terms (wants, amounts) opened, for the case's mediator."""
        stated = state.stated(party_id)
        if stated is None:
            return []
        if not stated.sealed_terms:
            return list(stated.objectives)
        terms = open_terms(await self.data_key_of(state.case_id), state.case_id, party_id, stated.sealed_terms)
        return rules.with_terms(stated.objectives, terms)

    # -- a side's statement ---------------------------------------------------------------------------

    async def submit_statement(self, case_id: str, party_id: str, side: Actor, text: StatementText,
                               documents: list[tuple[str, DocumentKind, bytes]], cause: str) -> dict:
        """A new version of the side's statement from the side itself (its own confirmed firm, or its signed link):
        text and documents sealed under the case's data key (documents in GridFS), the version recorded with its
        receipt for that side only."""
        state = await self.store.case(case_id)
        refused = statements.submission_refusals(state, side, case_id, party_id)
        if refused:
            raise StatementRefused(refused, 404)
        if state.session_start is not None and self.clock() >= state.session_start:
            raise StatementRefused([statements.Reason(
                field="case_id", message=f"the session started at {state.session_start.isoformat()}: statements "
                                         "are closed")], 409)
        too_big = statements.document_refusals([(t, k, len(c)) for t, k, c in documents], self.max_document_bytes)
        if too_big:
            raise StatementRefused(too_big, 413)
        if not text.parts() and not documents:
            raise StatementRefused([statements.Reason(field="statement", message="nothing to submit: give a part "
                                                                                 "of the statement or a document")],
                                   422)
        statement_id = statements.statement_id_of(case_id, party_id, cause)
        sealer = await self.sealer_of(case_id, create=True)
        received = []
        for n, (title, kind, content) in enumerate(documents):
            document_id = derived_id(statement_id, "document", str(n))
            sealed = sealer.seal(content, case_id=case_id, call_id=f"document~{document_id}")
            await self.store.put_document(document_id, case_id, sealed["nonce"] + sealed["ciphertext"])
            received.append(ReceivedDocument(document_id=document_id, title=title, kind=kind, size=len(content)))
        plain = json.dumps({"text": text.model_dump(), "titles": [d.title for d in received]}).encode()
        await self.store.save_statement(statement_id, case_id, party_id,
                                        sealer.seal(plain, case_id=case_id, call_id=f"statement~{statement_id}"))
        changed = await self.change_case(case_id, lambda s: statements.record_statement(
            s, party_id, cause, text.parts(), received, self.clock()))
        entry = next(e for e in changed.statements if e.cause == cause)
        return {"case_id": case_id, "party_id": party_id, "version": entry.version, "parts": entry.parts,
                "documents": [d.model_dump(mode="json") for d in received]}

    async def reject(self, command: CloudEvent, sender_key: str, firm_id: str, case_id: str,
                     reasons: list, dead_letter_topic: str | None = None) -> None:
        """A firm's command refused or invalid: CommandRejected back to it, on notes' own topic, written once (its
        id derives from the command's sender key, so a redelivery repeats it)."""
        rejected = CommandRejected(firm_id=firm_id, command_id=command.id[:200], command_type=command.type[:200],
                                   case_id=case_id[:128], reasons=reasons, dead_letter_topic=dead_letter_topic,
                                   rejected_at=self.clock())
        event_id = derived_id(sender_key, "rejected")
        await self.store.reject(event_id, new_event(rejected, SOURCE, firm_id=firm_id, caused_by=command,
                                                    event_id=event_id))

    async def record_outcome(self, call_id: str, mediator_id: str | None, outcome: outcomes.CallOutcome) -> dict:
        """How the call went: the public part to that side only (CallOutcomeRecorded), the confidential remarks
        sealed under the case key; the checklist items confirmed are ticked by the mediator (until the session)."""
        case_id = rules.case_of_call(call_id)
        call = rules.call_of(await self.store.case(case_id) if case_id else None, call_id, mediator_id)
        sealed = ""
        if outcome.confidential:
            sealer = await self.sealer_of(case_id, create=True)
            box = sealer.seal(outcome.confidential.encode(), case_id=case_id, call_id=f"outcome~{call_id}")
            sealed = base64.b64encode(box["nonce"] + box["ciphertext"]).decode()
        state = await self.change_case(case_id, lambda s: outcomes.record_outcome(s, call, outcome, sealed,
                                                                                  self.clock()))
        marked = []
        for item in outcome.items_confirmed:
            try:
                readiness.ensure_may_mark(state, case_id, call.party_id, item, None, state.mediator_id, self.clock())
            except readiness.ReadinessRefused:
                continue
            cause = derived_id(call_id, "outcome-item", str(item))
            state = await self.change_case(case_id, lambda s, item=item, cause=cause: readiness.mark(
                s, call.party_id, item, True, "mediator", cause, self.clock()))
            marked.append(str(item))
        return {"call_id": call_id, "case_id": case_id, "party_id": call.party_id, **outcome.public(),
                "items_marked": marked, "confidential_sealed": bool(outcome.confidential)}

    async def _opened_outcome(self, state: CaseState, call_id: str) -> dict | None:
        recorded = next((o for o in state.outcomes if o.call_id == call_id), None)
        if recorded is None:
            return None
        confidential = ""
        if recorded.sealed_confidential:
            raw = base64.b64decode(recorded.sealed_confidential)
            sealer = await self.sealer_of(state.case_id)
            confidential = sealer.open({"key_id": DATA_KEY_ID, "nonce": raw[:NONCE_BYTES],
                                        "ciphertext": raw[NONCE_BYTES:]},
                                       case_id=state.case_id, call_id=f"outcome~{call_id}").decode()
        return {**recorded.model_dump(mode="json", exclude={"fingerprint", "sealed_confidential"}),
                "confidential": confidential}

    async def mark_readiness(self, case_id: str, party_id: str, item: ReadinessItem, done: bool,
                             side: Actor, mediator_id: str | None) -> dict:
        """One item of a side's checklist, set by the side itself (its items: its firm or its link) or the case's
        mediator."""
        readiness.ensure_may_mark(await self.store.case(case_id), case_id, party_id, item, side, mediator_id,
                                  self.clock())
        set_by = "mediator" if mediator_id is not None else "firm"
        cause = f"http-{uuid.uuid4()}"

        def decide(state: CaseState) -> Decision:
            readiness.ensure_may_mark(state, case_id, party_id, item, side, mediator_id, self.clock())
            return readiness.mark(state, party_id, item, done, set_by, cause, self.clock())

        return self.readiness_view(await self.change_case(case_id, decide), party_id)

    async def readiness_of(self, case_id: str, party_id: str, side: Actor, mediator_id: str | None) -> dict:
        state = await self.store.case(case_id)
        if not readiness.may_read(state, party_id, side, mediator_id):
            raise UnknownCall(case_id)
        return self.readiness_view(state, party_id)

    async def side_preparation(self, link: SignedLink) -> dict:
        """What the side's own page shows of notes: its statement receipts, its checklist, the session's start."""
        state = await self.store.case(link.case_id)
        if not acts_for(state, link.party_id, link):
            raise UnknownCall(link.case_id)
        return {"case_id": link.case_id, "party_id": link.party_id,
                "session_start": state.session_start.isoformat() if state.session_start else None,
                "statements": statements.receipts_of(state, link.party_id),
                "readiness": self.readiness_view(state, link.party_id)}

    async def set_required_items(self, case_id: str, items: list[ReadinessItem], mediator_id: str | None) -> dict:
        state = await self.store.case(case_id)
        if state is None or mediator_id is None or state.mediator_id != mediator_id:
            raise UnknownCall(case_id)
        changed = await self.change_case(case_id, lambda s: readiness.set_required(s, items, self.clock()))
        return {"case_id": case_id, "required_items": changed.required_items,
                "ready_for_session": changed.ready_for_session}

    @staticmethod
    def readiness_view(state: CaseState, party_id: str) -> dict:
        left = readiness.outstanding(state, party_id)
        return {"case_id": state.case_id, "party_id": party_id, "required_items": state.required_items,
                "marks": [m.model_dump(mode="json") for m in readiness.marks_of(state, party_id)],
                "outstanding": [str(i) for i in left], "ready": not left,
                "case_ready_for_session": state.ready_for_session}

    async def count_not_ready(self, days: int) -> int:
        """Cases not ready for a session starting within `days` (the mednet_notes_cases_not_ready gauge)."""
        sessions = [(datetime.fromisoformat(start) if isinstance(start, str) else start, ready)
                    for start, ready in await self.store.sessions()]
        sessions = [(s if s.tzinfo else s.replace(tzinfo=UTC), ready) for s, ready in sessions]
        return readiness.not_ready_within(sessions, self.clock(), days)

    async def preparation(self, call_id: str, mediator_id: str | None) -> dict:
        """The mediator's sheet for one call: the party, its statement and documents, this case's other calls and
        their notes, the objectives recorded so far, and the other sides' status, one line each."""
        case_id = rules.case_of_call(call_id)
        state = await self.store.case(case_id) if case_id else None
        if mediator_id is None:
            raise UnknownCall(call_id)
        call = rules.call_of(state, call_id, mediator_id)
        party = state.party(call.party_id)
        latest = statements.latest_statement(state, call.party_id)
        earlier = []
        for other in sheet.earlier_calls(state, call):
            note = await self.store.note(other.call_id)
            observations = Observations.model_validate_json(await self._opened(case_id, other.call_id, note)) \
                if note else Observations()
            earlier.append({"call_id": other.call_id, "party_id": other.party_id, "status": other.status,
                            "observations": observations.model_dump(),
                            "outcome": await self._opened_outcome(state, other.call_id)})
        return {
            "call_id": call_id, "case_id": case_id, "status": call.status,
            "party": {"party_id": call.party_id, "role": party.role if party else "",
                      "firm_id": party.firm_id if party else None, "side_status": party.status if party else ""},
            "statement": await self._opened_statement(state, latest) if latest else None,
            "readiness": self.readiness_view(state, call.party_id),
            "earlier_calls": earlier,
            "objectives": [{"party_id": s.party_id, "objectives": [o.model_dump(mode="json") for o in
                                                                    await self.opened_objectives(state, s.party_id)]}
                           for s in state.objectives],
            "other_sides": sheet.other_sides(state, call),
        }

    async def statement_of(self, case_id: str, party_id: str, mediator_id: str | None) -> dict:
        """The side's latest statement, for the case's mediator (UnknownCall for anyone else, or none yet)."""
        state = await self.store.case(case_id)
        if state is None or mediator_id is None or state.mediator_id != mediator_id:
            raise UnknownCall(case_id)
        entry = statements.latest_statement(state, party_id)
        if entry is None:
            raise UnknownCall(f"{case_id}:{party_id}")
        return await self._opened_statement(state, entry)

    async def document_of(self, case_id: str, document_id: str, mediator_id: str | None) -> tuple[str, bytes]:
        state = await self.store.case(case_id)
        if state is None or mediator_id is None or state.mediator_id != mediator_id:
            raise UnknownCall(case_id)
        found = statements.document_entry(state, document_id)
        if found is None:
            raise UnknownCall(document_id)
        sealer = await self.sealer_of(case_id)
        raw = await self.store.document(document_id)
        if raw is None:
            raise UnknownCall(document_id)
        content = sealer.open({"key_id": DATA_KEY_ID, "nonce": raw[:NONCE_BYTES], "ciphertext": raw[NONCE_BYTES:]},
                              case_id=case_id, call_id=f"document~{document_id}")
        opened = await self._opened_statement(state, found[0])
        title = next(d["title"] for d in opened["documents"] if d["document_id"] == document_id)
        return title, content

    async def _opened_statement(self, state: CaseState, entry) -> dict:
        sealer = await self.sealer_of(state.case_id)
        stored = await self.store.statement(entry.statement_id)
        if stored is None:
            raise UnknownCall(entry.statement_id)
        opened = json.loads(sealer.open(stored["sealed"], case_id=state.case_id,
                                        call_id=f"statement~{entry.statement_id}"))
        versions = [e.version for e in state.statements if e.party_id == entry.party_id]
        return {"case_id": state.case_id, "party_id": entry.party_id, "version": entry.version,
                "versions": sorted(versions), "received_at": entry.received_at.isoformat(), **opened["text"],
                "documents": [{"document_id": d.document_id, "title": title, "kind": str(d.kind), "size": d.size,
                               "download": f"/v1/cases/{state.case_id}/documents/{d.document_id}"}
                              for d, title in zip(entry.documents, opened["titles"], strict=True)]}

    async def sealer_of(self, case_id: str, create: bool = False) -> NoteSealer:
        """The case's data key, unwrapped; made and stored on the first note of the case when create is set."""
        return NoteSealer(await self.data_key_of(case_id, create), DATA_KEY_ID)

    async def data_key_of(self, case_id: str, create: bool = False) -> bytes:
        wrapping = await self.store.case_key(case_id)
        if wrapping is None and create:
            _, fresh = self.master_keys.new_data_key(case_id)
            wrapping = await self.store.add_case_key(case_id, fresh)
        if wrapping is None:
            raise NotesPurged(case_id, self.clock())
        if "purged_at" in wrapping:
            raise NotesPurged(case_id, wrapping["purged_at"])
        return self.master_keys.unwrap(wrapping, case_id)

    async def purge(self, case_id: str) -> dict:
        """Crypto-shred one case: its wrapped data key is deleted first, then its sealed statements and document
        files (a purge again finishes what a failed one left); other cases are untouched."""
        purged = await self.store.purge_case_key(case_id)
        deleted = await self.store.delete_notes_not_sealed_with(case_id, DATA_KEY_ID)
        return {"case_id": case_id, "purged_at": purged["purged_at"].isoformat(),
                "unreadable_notes": await self.store.notes_of_case(case_id), "deleted_legacy_notes": deleted,
                "deleted_statements": await self.store.delete_statements_of_case(case_id),
                "deleted_documents": await self.store.delete_documents_of_case(case_id)}

    async def rewrap_all(self) -> dict:
        """Every case's data key wrapped by the active master key, so older master keys can be dropped."""
        cases = await self.store.cases_wrapped_by_other_keys(self.master_keys.active_id)
        rewrapped = [case_id for case_id in cases if await self.rewrap(case_id)]
        return {"master_key_id": self.master_keys.active_id, "rewrapped": len(rewrapped)}

    async def rewrap(self, case_id: str) -> bool:
        """Wrap the case's data key with the active master key (master key rotation); False if nothing to do."""
        wrapping = await self.store.case_key(case_id)
        if not wrapping or "purged_at" in wrapping or wrapping["master_key_id"] == self.master_keys.active_id:
            return False
        return await self.store.replace_case_key(case_id, wrapping, self.master_keys.rewrap(wrapping, case_id))

    async def _opened(self, case_id: str, call_id: str, note: dict) -> bytes:
        """A note sealed before envelope encryption (by a master key itself) opens, and is resealed under the case's
        data key."""
        legacy = self.master_keys.legacy_sealer(note["sealed"].get("key_id", ""))
        if legacy is None:
            return (await self.sealer_of(case_id)).open(note["sealed"], case_id=case_id, call_id=call_id)
        opened = legacy.open(note["sealed"], case_id=case_id, call_id=call_id)
        sealer = await self.sealer_of(case_id, create=True)
        await self.store.reseal_note(call_id, note["sealed"], sealer.seal(opened, case_id=case_id, call_id=call_id))
        return opened

    def _event(self, outgoing: Outgoing) -> CloudEvent:
        return new_event(outgoing.message, SOURCE, event_id=outgoing.event_id)

