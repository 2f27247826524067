"""The mediator's console in Chromium on the real stack: sign in by one-time link, the agenda, a call's notes that
survive a reload and are sealed in the raw database, objectives, completing the calls, the brief; CSRF; axe-core on
every page; phone width."""

from __future__ import annotations

import re
import uuid

import bson
import httpx
import jwt
import pytest
from pymongo import MongoClient

from kafka_helpers import wait_for
from mednet_console.login import link_claims, login_link
from mednet_console.sessions import digest
from mednet_shared.platform.auth import Role
from offers_helpers import choose_first
from sample_cases import submission
from browser.conftest import run

pytestmark = pytest.mark.timeout(600)


def one_time_link(stack, mediator_id: str) -> str:
    """What `mednet console login --mediator <id>` prints: the issuer's ten-minute mediator token with a jti."""
    staff = stack.issuer.state["staff"]
    token = jwt.encode(link_claims(mediator_id), jwt.algorithms.ECAlgorithm.from_jwk(staff), "ES256",
                       headers={"kid": staff["kid"]})
    return login_link(stack.url["console"], token)


async def both_calls_booked(stack, case) -> list[dict]:
    for party_id, firm in case.firms.items():
        await choose_first(stack.kafka, firm, case.case_id, party_id)
    headers = {"Authorization": f"Bearer {stack.token(Role.MEDIATOR, mediator_id=case.mediator_id)}"}
    found: list[dict] = []

    async def booked() -> bool:
        try:
            async with httpx.AsyncClient(timeout=30) as http:
                answer = await http.get(f"{stack.url['scheduling']}/v1/cases/{case.case_id}/calls", headers=headers)
        except httpx.HTTPError:
            return False
        found[:] = answer.json().get("calls", []) if answer.status_code == 200 else []
        return len(found) == 2 and all(call["status"] == "scheduled" for call in found)

    await wait_for(booked, timeout=90, interval=0.5)

    async def notes_knows_them() -> bool:   # notes learns of each call from scheduling's events
        try:
            answers = [await mediator_api(stack, case, "GET", f"/v1/calls/{call['call_id']}/notes") for call in found]
        except httpx.HTTPError:
            return False
        return all(answer.status_code == 200 for answer in answers)

    await wait_for(notes_knows_them, timeout=90, interval=0.5)
    return found


async def mediator_api(stack, case, method: str, path: str, body=None, service: str = "notes") -> httpx.Response:
    headers = {"Authorization": f"Bearer {stack.token(Role.MEDIATOR, mediator_id=case.mediator_id)}"}
    async with httpx.AsyncClient(timeout=60) as http:
        return await http.request(method, stack.url[service] + path, json=body, headers=headers)


async def brief_ready(stack, case) -> None:
    async def ready() -> bool:
        try:
            return (await mediator_api(stack, case, "GET", f"/v1/cases/{case.case_id}/brief")).status_code == 200
        except httpx.HTTPError:
            return False

    await wait_for(ready, timeout=90, interval=0.5)


def raw_notes_database_holds(stack, text: str) -> list[str]:
    """Every collection of notes' own database whose raw BSON contains the text."""
    with MongoClient(stack.mongodb_url) as mongo:
        db = mongo[stack.databases["notes"]]
        return [name for name in db.list_collection_names()
                if any(text.encode() in bson.encode(document) for document in db[name].find())]


@pytest.fixture(scope="module")
def booked(browser_stack):
    """One case of a mediator of its own with both sides' calls booked by choice (the tests below share it; the
    last one completes the calls)."""
    case = browser_stack.open_case()
    return case, run(both_calls_booked(browser_stack, case))


def test_the_agenda_at_phone_width(browser_stack, booked, phone_page, shot, axe, no_horizontal_scroll):
    case, _ = booked
    phone_page.goto(one_time_link(browser_stack, case.mediator_id))
    phone_page.wait_for_url(re.compile(r"/agenda$"))
    assert phone_page.get_by_role("link", name=case.party("p2")["contact"]["name"]).is_visible()
    no_horizontal_scroll(phone_page)
    axe(phone_page)
    shot(phone_page, "agenda-phone")
    phone_page.get_by_role("link", name=case.party("p2")["contact"]["name"]).click()
    phone_page.wait_for_url(re.compile(r"/calls/"))
    no_horizontal_scroll(phone_page)
    shot(phone_page, "call-phone")


def test_a_form_posted_without_its_csrf_token_is_refused(browser_stack, booked, page):
    case, _ = booked
    page.goto(one_time_link(browser_stack, case.mediator_id))
    page.wait_for_url(re.compile(r"/agenda$"))
    before = run(mediator_api(browser_stack, case, "GET", f"/v1/mediators/{case.mediator_id}/conferencing",
                              service="scheduling")).json()
    forged = page.request.post(browser_stack.url["console"] + "/settings/conferencing",
                               form={"kind": "callback", "phone": "+44 20 7946 0000"}, max_redirects=0)
    assert forged.status == 403 and "sent without its security token" in forged.text()
    after = run(mediator_api(browser_stack, case, "GET", f"/v1/mediators/{case.mediator_id}/conferencing",
                             service="scheduling")).json()
    assert after == before
    page.goto(one_time_link(browser_stack, case.mediator_id).replace("token=", "token=x"))
    assert "not valid" in page.locator("main").inner_text() and "Traceback" not in page.content()


async def unrepresented_case(stack) -> tuple[str, str]:
    """A case whose p2 has no attorney: its side waits for the mediator's confirmation."""
    tag, mediator_id = uuid.uuid4().hex[:8], f"med-{uuid.uuid4().hex[:8]}"
    document = submission(f"browser-u-{tag}", parties=2, mediator_id=mediator_id, tag=tag)
    document["parties"][0]["attorney"]["firm_id"] = stack.firms[0]
    document["parties"][1].pop("attorney")
    firm = {"Authorization": f"Bearer {stack.token(Role.FIRM, firm_id=stack.firms[0])}"}
    async with httpx.AsyncClient(timeout=60) as http:
        created = await http.post(f"{stack.url['intake']}/v1/cases", json=document, headers=firm)
    assert created.status_code == 201, created.text
    return created.json()["case_id"], mediator_id


def test_the_mediator_confirms_an_unrepresented_side_and_waives_a_call(browser_stack, page, axe):
    case_id, mediator_id = run(unrepresented_case(browser_stack))
    page.goto(one_time_link(browser_stack, mediator_id))
    page.wait_for_url(re.compile(r"/agenda$"))
    page.goto(f"{browser_stack.url['console']}/cases/{case_id}")
    cells = page.locator("td[data-label='Confirmation']")
    assert cells.nth(1).inner_text().startswith("awaiting confirmation")
    axe(page)
    page.get_by_role("button", name="Confirm this unrepresented side").click()
    page.wait_for_url(re.compile(rf"/cases/{case_id}$"))
    assert cells.all_inner_texts() == ["confirmed", "confirmed"]

    async def offered() -> bool:
        headers = {"Authorization": f"Bearer {browser_stack.token(Role.MEDIATOR, mediator_id=mediator_id)}"}
        async with httpx.AsyncClient(timeout=30) as http:
            answer = await http.get(f"{browser_stack.url['scheduling']}/v1/cases/{case_id}/calls", headers=headers)
        return answer.status_code == 200 and any(c["party_id"] == "p1" for c in answer.json()["calls"])

    run(wait_for(offered, timeout=90, interval=0.5))
    page.goto(f"{browser_stack.url['console']}/calls/{case_id}:p1")
    page.get_by_label("Why the call will not take place").fill("The claimant settled directly")
    page.get_by_role("button", name="Waive the call").click()
    assert page.get_by_text("The call is waived.").is_visible()
    assert page.locator("#call-status").inner_text() == "waived"
    page.get_by_role("button", name="Mark completed").click()
    assert page.get_by_role("heading", name="That was not done").is_visible()
    assert "Scheduling refused" in page.locator("main").inner_text() and "Traceback" not in page.content()


def test_notes_typed_while_saving_fails_are_kept_in_the_browser_and_saved_later(browser_stack, booked, page):
    case, calls = booked
    second = next(call for call in calls if call["party_id"] == "p2")
    page.goto(one_time_link(browser_stack, case.mediator_id))
    page.wait_for_url(re.compile(r"/agenda$"))
    cookie = next(c["value"] for c in page.context.cookies() if c["name"] == "mednet_console")
    with MongoClient(browser_stack.mongodb_url) as mongo:
        stored = [bson.encode(d) for d in mongo[browser_stack.databases["console"]]["sessions"].find()]
    assert stored and not any(cookie.encode() in document for document in stored)
    assert any(digest(cookie).encode() in document for document in stored)

    page.goto(f"{browser_stack.url['console']}/calls/{second['call_id']}")
    page.route("**/notes", lambda route: route.abort() if route.request.method == "POST" else route.continue_())
    text = f"Wants the matter closed before summer {uuid.uuid4().hex}"
    page.get_by_label("Notes on this call").fill(text)
    page.wait_for_function("() => document.getElementById('save-state').textContent.startsWith('Not saved:')")
    page.reload()
    assert page.get_by_label("Notes on this call").input_value() == text      # from the browser, not the server
    page.wait_for_function("() => document.getElementById('save-state').textContent.startsWith('Not saved')")
    page.unroute("**/notes")
    page.get_by_label("Notes on this call").press("End")
    page.get_by_label("Notes on this call").press_sequentially(".")
    page.wait_for_function("() => document.getElementById('save-state').textContent === 'Saved'")
    page.evaluate("() => localStorage.clear()")
    page.reload()
    assert page.get_by_label("Notes on this call").input_value() == text + "."


def test_a_mediator_signs_in_writes_notes_records_objectives_completes_the_calls_and_reads_the_brief(
        browser_stack, booked, page, shot, axe):
    case, calls = booked
    first = next(call for call in calls if call["party_id"] == "p1")
    name = case.party("p1")["contact"]["name"]

    page.goto(one_time_link(browser_stack, case.mediator_id))
    page.wait_for_url(re.compile(r"/agenda$"))
    assert page.get_by_role("heading", name="Your agenda").is_visible()
    zone = case.document["mediator"]["time_zone"]
    assert page.get_by_text(f"Times in {zone}.").is_visible()
    row = page.locator("tr", has=page.get_by_role("link", name=name))
    assert row.count() >= 1 and "ready" in row.first.inner_text().lower()
    axe(page)
    shot(page, "agenda", docs=True)

    row.first.get_by_role("link", name=name).click()
    page.wait_for_url(re.compile(rf"/calls/{re.escape(first['call_id'])}$"))
    assert page.get_by_role("heading", name="Preparation sheet").is_visible()
    assert page.locator("#call-status").inner_text() == "scheduled"
    axe(page)

    secret = f"Seems anxious about the timeline, {uuid.uuid4().hex}"
    page.get_by_label("Notes on this call").fill(secret)
    page.wait_for_function("() => document.getElementById('save-state').textContent === 'Saved'"
                           " && !localStorage.getItem('mednet:notes:' + location.pathname.split('/').pop())")
    page.reload()
    assert page.get_by_label("Notes on this call").input_value() == secret
    assert raw_notes_database_holds(browser_stack, secret) == [], "the notes are in the raw database in plain text"
    assert raw_notes_database_holds(browser_stack, secret.split(", ")[1]) == []
    shot(page, "call", docs=True)

    page.get_by_label("Priority").first.fill("1")
    page.locator("[name='payment_amount.wants']").fill("A refund of the deposit")
    page.locator("[name='apology.priority']").fill("2")
    page.locator("[name='apology.stance']").select_option("opposes")
    page.locator("[name='apology.wants']").fill("No public apology")
    page.get_by_role("button", name="Record objectives").click()
    assert page.get_by_text("The objectives are recorded.").is_visible()
    assert page.locator("[name='apology.wants']").input_value() == "No public apology"
    assert page.get_by_label("Notes on this call").input_value() == secret   # one form's save kept the other's text

    page.get_by_role("button", name="Mark completed").click()
    assert page.get_by_text("The call is marked completed.").is_visible()
    assert page.locator("#call-status").inner_text() == "completed"
    axe(page)

    second = next(call for call in calls if call["party_id"] == "p2")
    objectives = {"observations": {}, "objectives": [
        {"issue": "payment_amount", "wants": "Pay nothing back", "stance": "opposes", "priority": 1},
        {"issue": "apology", "wants": "A private apology", "stance": "willing", "priority": 5}]}
    assert run(mediator_api(browser_stack, case, "PUT", f"/v1/calls/{second['call_id']}/notes",
                            objectives)).status_code == 200
    assert run(mediator_api(browser_stack, case, "POST", f"/v1/calls/{second['call_id']}/complete",
                            service="scheduling")).status_code == 200

    run(brief_ready(browser_stack, case))   # notes learns of the completed calls from scheduling's events
    page.get_by_role("link", name="The brief").click()
    page.wait_for_url(re.compile(r"/brief$"))
    assert page.get_by_role("heading", name="Suggested agenda").is_visible()
    table = page.locator("table").inner_text()
    assert "Payment amount" in table and "Apology" in table and "A refund of the deposit" in table
    axe(page)
    shot(page, "brief", docs=True)
    page.emulate_media(media="print")
    assert not page.get_by_role("button", name="Print").is_visible()
    page.emulate_media(media="screen")

    page.get_by_role("link", name="The case").click()
    assert page.get_by_role("heading", name="Sides").is_visible()
    assert page.locator("td[data-label='Confirmation']").all_inner_texts() == ["confirmed", "confirmed"]
    axe(page)
    shot(page, "case")

    page.get_by_role("link", name="Settings").click()
    page.get_by_label("Monday").fill("09:00-12:00, 13:00-17:00")
    page.get_by_label("Blackout days (one a line: 2026-04-01)").fill("2030-01-02")
    page.get_by_role("button", name="Save hours").click()
    assert page.get_by_text("Your hours are saved.").is_visible()
    assert page.get_by_label("Monday").input_value() == "09:00-12:00, 13:00-17:00"
    axe(page)
    shot(page, "settings")

