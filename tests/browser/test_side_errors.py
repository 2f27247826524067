"""The side's pages in plain words when things go wrong, and its decline: none of the times suits, it proposes windows
and gets new times inside them; a link past its time says it has expired; a time already booked cannot be chosen
again; with notes down, that part of the page says so and the call is still shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from browser.conftest import _settings
from mednet_cli.processes import free_port
from mednet_cli.tokens import jwks_url
from mednet_console import times
from mednet_shared.platform import side_link
from mednet_shared.platform.keyset import KeySet
from service_processes import start_service, terminate, wait_status
from services_harness import TEST_LINK_KEYS
from browser.test_side_pages import side_link_in_mail, side_view, token_of


def test_a_side_declines_with_proposed_windows_and_gets_new_times_inside_them(browser_stack, page, shot, axe):
    case = browser_stack.open_case()
    p2 = case.party("p2")
    link = side_link_in_mail(browser_stack.mailbox, p2["contact"]["email"], browser_stack.url["console"])
    first = side_view(browser_stack, link)["offer"]
    last = times.local(first["slots"][-1]["start"], p2["time_zone"]).date()
    days = [last + timedelta(days=n) for n in range(3)]

    page.goto(link)
    page.get_by_text("None of these times suits you?").click()
    for n, day in enumerate(days, start=1):
        page.locator(f"#day-{n}").fill(day.isoformat())
        page.locator(f"#start-{n}").fill("08:00")
        page.locator(f"#end-{n}").fill("20:00")
    page.get_by_label("Anything the mediator should know (optional)").fill("Mornings are better for me")
    axe(page)
    page.get_by_role("button", name="Decline these times").click()
    assert "You will receive new times" in page.inner_text("main")

    second = side_view(browser_stack, link)["offer"]
    assert second["offer_id"] != first["offer_id"]
    assert {times.local(s["start"], p2["time_zone"]).date() for s in second["slots"]} <= set(days)
    assert page.locator("input[name=slot_id]").count() == len(second["slots"])
    shot(page, "side-new-times")


def test_an_expired_link_and_a_time_already_booked_are_told_in_plain_words(browser_stack, page, shot, axe):
    case = browser_stack.open_case()
    expired = side_link.mint(KeySet.secrets(TEST_LINK_KEYS, "l1", "TEST"), case.case_id, "p1",
                             datetime.now(UTC) - side_link.MARGIN - timedelta(days=1))
    page.goto(f"{browser_stack.url['console']}/side?token={expired}")
    assert "This link has expired" in page.inner_text("main")
    assert "Traceback" not in page.content()
    axe(page)
    shot(page, "side-expired")

    link = side_link_in_mail(browser_stack.mailbox, case.party("p1")["contact"]["email"], browser_stack.url["console"])
    offer = side_view(browser_stack, link)["offer"]
    page.goto(link)
    page.get_by_role("button", name="Book this time").click()
    assert "Your call is booked" in page.inner_text("main")
    assert "There is nothing left to choose" not in page.inner_text("main")   # booked: the call is shown instead
    again = page.request.post(f"{browser_stack.url['console']}/side/choose", form={
        "csrf_token": page.locator("input[name=csrf_token]").first.get_attribute("value"),
        "offer_id": offer["offer_id"], "slot_id": offer["slots"][1]["slot_id"]})
    assert again.status in (409, 410), again.text()
    assert "Scheduling refused" in again.text() and "Traceback" not in again.text()


def test_with_notes_down_its_part_says_so_and_the_call_is_still_shown(browser_stack, page, shot, axe):
    stack = browser_stack
    case = stack.open_case()
    link = side_link_in_mail(stack.mailbox, case.party("p1")["contact"]["email"], stack.url["console"])
    port = free_port()
    urls = {**stack.url, "console": f"http://127.0.0.1:{port}", "notes": f"http://127.0.0.1:{free_port()}"}
    process, url = start_service("console", stack.kafka, stack.mongodb_url, stack.logs / "console-no-notes.log",
                                 jwt={"MEDNET_JWT_JWKS_URL": jwks_url(stack.issuer.data_dir)},
                                 port=port, **_settings("console", urls, stack.unique, 0))
    try:
        wait_status(url, 200, timeout=120)
        page.goto(f"{url}/side?token={token_of(link)}")
        text = page.inner_text("main")
        assert text.count("Notes is not answering right now") == 2, text   # statement and readiness
        assert page.locator("input[name=slot_id]").count() == len(side_view(stack, link)["offer"]["slots"])
        axe(page)
        shot(page, "side-notes-down")
    finally:
        terminate(process)

