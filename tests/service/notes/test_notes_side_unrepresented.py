"""An unrepresented party's own pages through its signed link (X-Side-Link), on in-memory adapters: the link is the
side itself, so it brings the party's statement and ticks its readiness with no firm acting for it (never what only
the mediator confirms), reaches no other party and no other case, and its receipts reach no firm; a represented
side's link works as before, and a firm's token still reaches only its own confirmed side."""

from __future__ import annotations

import base64

import httpx
import pytest
from notes_kit import NOW, delivered

from mednet_intake.domain import confirm_by_mediator, open_case, parse_submission
from mednet_notes import api, side_api
from mednet_notes.config import Settings
from mednet_notes.handlers import NotesHandlers
from mednet_notes.memory import MemoryNotesStore
from mednet_notes.usecases import Notes
from mednet_notify import domain as notify
from mednet_shared.contracts.events import SideReadinessChanged, StatementReceived
from mednet_shared.platform.auth import Role
from mednet_shared.platform.memory import api_app
from mednet_shared.platform.side_link import mint
from sample_cases import DELETE, submission, variant
from services_harness import TEST_LINK_KEYS, TEST_NOTES_KEY, client, jwt_settings

MEDIATOR = "med-ada"
SECRET = "i-would-keep-the-workshop-4417"
FILE = b"my own timeline, no lawyer 8812"


class World:
    """Notes with its side routes, as app.py wires them, on in-memory adapters."""

    def __init__(self) -> None:
        self.settings = Settings(encryption_key=TEST_NOTES_KEY, link_keys=TEST_LINK_KEYS, link_active_kid="l1",
                                 **jwt_settings())
        self.store = MemoryNotesStore()
        self.notes = Notes(self.store, self.settings.key_ring(), clock=lambda: NOW)
        self.handlers = NotesHandlers(self.notes)
        self.app = api_app(self.settings, [api.router, side_api.router])
        self.app.state.notes = self.notes
        self.app.state.link_keys = self.settings.link_keyset()
        self.known: dict[str, notify.CaseState] = {}

    async def case(self, reference: str = "ref-1", confirm: bool = True) -> str:
        """firm-a submits: p1 is its own client (confirmed at once), p2 has no attorney and the mediator confirms
        it unrepresented (unless not `confirm`); notes learns it as intake publishes it."""
        document = variant(submission(reference, mediator_id=MEDIATOR, now=NOW), "parties.1.attorney", DELETE)
        case = open_case("firm-a", parse_submission(document), NOW)
        await self.handlers.case_opened(delivered(case.opened()))
        self.session_end = case.session.end
        if confirm:
            case, update = confirm_by_mediator(case, MEDIATOR, "p2", NOW)
            await self.handlers.case_updated(delivered(update))
            self.known[case.case_id] = notify.updated(update)
        return case.case_id

    def link(self, case_id: str, party_id: str) -> dict:
        return {"X-Side-Link": mint(self.app.state.link_keys, case_id, party_id, self.session_end)}

    def side(self) -> httpx.AsyncClient:
        """A browser on the side's pages: no token, only the link each request names."""
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://service")

    def firms_told(self, message) -> set[str]:
        """Which firms notify tells of a notes event (its ROUTES, on what it knows of the case)."""
        return notify.firms_for(message, self.known[message.case_id])


@pytest.fixture
def world() -> World:
    return World()


def statement(interests: str = SECRET, *files: tuple[str, bytes]) -> dict:
    return {"interests": interests, "concerns": "the cost",
            "documents": [{"title": title, "kind": "evidence", "content_base64": base64.b64encode(data).decode()}
                          for title, data in files]}


def marks(view: dict) -> list[tuple[str, bool, str]]:
    return [(m["item"], m["done"], m["set_by"]) for m in view["marks"]]


async def test_an_unrepresented_partys_link_brings_its_statement_and_ticks_its_readiness(world):
    case_id = await world.case()
    own = world.link(case_id, "p2")
    async with world.side() as side, client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator:
        sent = await side.post("/v1/side/statement", headers=own, json=statement(SECRET, ("Timeline", FILE)))
        assert sent.status_code == 201, sent.text
        ticked = await side.post("/v1/side/readiness", headers=own, json={"item": "agreement_signed"})
        assert ticked.status_code == 200, ticked.text
        prepared = (await side.get("/v1/side/preparation", headers=own)).json()
        other = (await side.get("/v1/side/preparation", headers=world.link(case_id, "p1"))).json()
        read = (await mediator.get(f"/v1/cases/{case_id}/sides/p2/statement")).json()
    assert sent.json()["version"] == 1 and sent.json()["parts"] == ["interests", "concerns"]
    assert [(r["version"], r["parts"], r["documents"]) for r in prepared["statements"]] == [
        (1, ["interests", "concerns"], [{"kind": "evidence", "size": len(FILE)}])]
    assert SECRET not in str(prepared), "the side's page shows receipts, never the text"
    assert marks(prepared["readiness"]) == [("agreement_signed", True, "firm")]
    assert prepared["readiness"]["outstanding"] == ["attendees_named", "authority_confirmed"]
    assert read["interests"] == SECRET and [d["title"] for d in read["documents"]] == ["Timeline"]
    assert other["statements"] == [] and other["readiness"]["marks"] == [], "p1's side is untouched"
    [receipt] = world.store.outbox.messages(StatementReceived)
    [change] = world.store.outbox.messages(SideReadinessChanged)
    assert (receipt.party_id, receipt.side_firm_id) == ("p2", None)
    assert (change.party_id, change.side_firm_id) == ("p2", None)
    assert world.firms_told(receipt) == set() and world.firms_told(change) == set(), \
        "no firm acts for p2: its receipts reach no firm (not the submitter, not p1's)"


async def test_its_link_cannot_mark_what_only_the_mediator_confirms(world):
    case_id = await world.case()
    async with world.side() as side, client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator:
        refused = await side.post("/v1/side/readiness", headers=world.link(case_id, "p2"),
                                      json={"item": "authority_confirmed"})
        confirmed = await mediator.put(f"/v1/cases/{case_id}/sides/p2/readiness/authority_confirmed", json={})
    assert refused.status_code == 403 and "only the mediator" in refused.text
    assert confirmed.status_code == 200 and marks(confirmed.json()) == [("authority_confirmed", True, "mediator")]
    assert [c.set_by for c in world.store.outbox.messages(SideReadinessChanged)] == ["mediator"]


async def test_a_link_reaches_only_its_own_party_of_its_own_case(world):
    from mednet_notes.domain.acting import SignedLink
    from mednet_notes.domain.readiness import ReadinessRefused
    from mednet_notes.domain.statement import StatementRefused, StatementText
    from mednet_notes.domain import UnknownCall
    from mednet_shared.contracts.values import ReadinessItem

    case_id, elsewhere, unconfirmed = await world.case(), await world.case("ref-2"), await world.case("ref-3", False)
    text, item = StatementText(interests=SECRET), ReadinessItem.AGREEMENT_SIGNED
    for link, party_id in ((SignedLink(case_id, "p2"), "p1"), (SignedLink(elsewhere, "p2"), "p2"),
                           (SignedLink(case_id, "p3"), "p3")):
        with pytest.raises(StatementRefused) as statement_refused:
            await world.notes.submit_statement(case_id, party_id, link, text, [], f"attack-{party_id}")
        with pytest.raises(ReadinessRefused) as mark_refused:
            await world.notes.mark_readiness(case_id, party_id, item, True, link, None)
        with pytest.raises(UnknownCall):
            await world.notes.readiness_of(case_id, party_id, link, None)
        assert statement_refused.value.status == mark_refused.value.status == 404
    async with world.side() as side:
        for headers in (world.link(case_id, "p3"), world.link("case-unknown", "p2"), world.link(unconfirmed, "p2")):
            for answer in (await side.post("/v1/side/statement", headers=headers, json=statement()),
                           await side.post("/v1/side/readiness", headers=headers, json={"item": item}),
                           await side.get("/v1/side/preparation", headers=headers)):
                assert answer.status_code == 404 and "nothing is known" in answer.text
        smuggled = await side.post("/v1/side/readiness", headers=world.link(case_id, "p2"),
                                   json={"item": item, "party_id": "p1"})
        assert smuggled.status_code == 422
        assert (await side.post("/v1/side/statement", headers=world.link(elsewhere, "p2"),
                                json=statement())).status_code == 201
    assert world.store.outbox.messages(SideReadinessChanged) == []
    assert [(r.case_id, r.party_id) for r in world.store.outbox.messages(StatementReceived)] == [(elsewhere, "p2")]
    assert (await world.store.case(case_id)).statements == []


async def test_a_represented_sides_link_works_as_before_and_its_receipt_reaches_its_firm_only(world):
    case_id = await world.case()
    own = world.link(case_id, "p1")
    async with world.side() as side, client(world.app, Role.FIRM, firm_id="firm-a") as firm:
        sent = await side.post("/v1/side/statement", headers=own, json=statement())
        ticked = await side.post("/v1/side/readiness", headers=own, json={"item": "attendees_named"})
        by_firm = await firm.get(f"/v1/cases/{case_id}/sides/p1/readiness")
    assert sent.status_code == 201 and ticked.status_code == 200
    assert marks(by_firm.json()) == [("attendees_named", True, "firm")]
    [receipt] = world.store.outbox.messages(StatementReceived)
    [change] = world.store.outbox.messages(SideReadinessChanged)
    assert receipt.side_firm_id == change.side_firm_id == "firm-a"
    assert world.firms_told(receipt) == world.firms_told(change) == {"firm-a"}


async def test_a_firms_token_for_the_unrepresented_party_is_refused_as_before(world):
    case_id = await world.case()
    base = f"/v1/cases/{case_id}/sides/p2"
    async with client(world.app, Role.FIRM, firm_id="firm-a") as submitter, \
            client(world.app, Role.FIRM, firm_id="firm-b") as stranger, \
            client(world.app, Role.MEDIATOR, mediator_id="med-bob") as other_mediator:
        for firm in (submitter, stranger):
            assert (await firm.post(f"{base}/statement", json=statement())).status_code == 404
            # a firm's token is no link
            assert (await firm.get("/v1/side/preparation")).status_code == 401
        for caller in (submitter, stranger, other_mediator):   # no firm for p2 is no one's firm
            assert (await caller.put(f"{base}/readiness/agreement_signed", json={})).status_code == 404
            assert (await caller.get(f"{base}/readiness")).status_code == 404
    assert world.store.outbox.messages(StatementReceived) == []
    assert world.store.outbox.messages(SideReadinessChanged) == []
