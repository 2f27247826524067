"""A side opens the link of its offer email in Chromium, on the real stack: it sees its times in its own zone (the zone
named), books one, and its invitation arrives in the SMTP sink with the call's place; the page then shows where the
call takes place and gives its calendar file; it sends a statement with a document and ticks its readiness. Every
page passes axe-core and, at phone width, has no horizontal scroll."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import parse_qs, urlparse

import httpx
from icalendar import Calendar

from browser.conftest import run
from kafka_helpers import wait_for


def mail_text(message) -> str:
    return "".join(part.get_payload(decode=True).decode(errors="replace") for part in message.walk()
                   if part.get_content_type() == "text/plain")


def side_link_in_mail(mailbox, address: str, console: str) -> str:
    """The side's own page as its offer email links it."""
    async def linked() -> str | None:
        for message in mailbox.to(address):
            found = re.search(re.escape(console) + r"/side\?token=[\w.%-]+", mail_text(message))
            if message["Subject"].startswith("Choose a time") and found:
                return found.group(0)
        return None

    return run(wait_for(linked, timeout=150, interval=0.5))


def token_of(link: str) -> str:
    return parse_qs(urlparse(link).query)["token"][0]


def side_view(stack, link: str) -> dict:
    """What scheduling shows the side of this link (its offer, its call). On a shared broker another test's
    scheduler may offer the same case too: this stack's offer is the one its own scheduling holds."""
    answer = httpx.get(f"{stack.url['scheduling']}/v1/side", headers={"X-Side-Link": token_of(link)}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def invitation_to(mailbox, address: str, call_id: str):
    async def invited():
        return next((m for m in mailbox.to(address) if mailbox.invited(call_id, address) and any(
            part.get_content_type() == "text/calendar" for part in m.walk())), None)

    return run(wait_for(invited, timeout=150, interval=0.5))


def test_a_side_chooses_a_time_from_its_link_and_gets_the_invitation_with_the_place(
        browser_stack, page, phone_page, shot, axe, no_horizontal_scroll):
    case = browser_stack.open_case()
    p1 = case.party("p1")
    link = side_link_in_mail(browser_stack.mailbox, p1["contact"]["email"], browser_stack.url["console"])
    offer = side_view(browser_stack, link)["offer"]

    page.goto(link)
    assert "token=" not in page.url, "the link's token leaves the address bar once the side session is open"
    assert page.get_by_role("heading", name="Your pre-mediation call").is_visible()
    assert f"Every time on this page is in {p1['time_zone']}" in page.inner_text("main")
    assert page.locator("input[name=slot_id]").count() == len(offer["slots"])
    axe(page)
    shot(page, "side-offer", docs=True)

    phone_page.goto(link)
    no_horizontal_scroll(phone_page)
    axe(phone_page)
    shot(phone_page, "side-offer-phone")

    page.get_by_label(re.compile(r"\d{2}:\d{2}")).nth(1).check()
    page.get_by_role("button", name="Book this time").click()
    assert "Your call is booked" in page.inner_text("main")
    place = page.locator("#call-place").inner_text()
    assert "https://meet.example.org/" in place
    axe(page)
    shot(page, "side-booked", docs=True)

    invitation = invitation_to(browser_stack.mailbox, p1["contact"]["email"], f"{case.case_id}:p1")
    room = page.get_by_role("link", name="Join the video call").get_attribute("href")
    assert room in mail_text(invitation) or room in invitation.as_string()

    with page.expect_download() as download:
        page.get_by_role("link", name="Download the calendar file").click()
    event = Calendar.from_ical(open(download.value.path(), "rb").read()).walk("VEVENT")[0]
    assert str(event["UID"]) == f"{case.case_id}:p1" and room in str(event["LOCATION"])
    assert event.decoded("DTSTART") == datetime.fromisoformat(offer["slots"][1]["start"])

    page.get_by_label("What matters most to you").fill("To be heard before the session")
    page.get_by_label("A document (optional)").set_input_files(
        files=[{"name": "timeline.txt", "mimeType": "text/plain", "buffer": b"2026-01-01 the contract"}])
    page.get_by_role("button", name="Send to the mediator").click()
    assert "Your statement was received" in page.inner_text("main")
    assert "Version 1" in page.locator("#receipts").inner_text()

    page.locator("li", has_text="agreement to mediate").get_by_role("button", name="Mark as done").click()
    assert "Your checklist is updated" in page.inner_text("main")
    assert "done" in page.locator("li", has_text="agreement to mediate").inner_text()
    axe(page)
    shot(page, "side-prepared", docs=True)
