"""Another side's link can neither see nor change the first side's call, in the browser and against the side APIs
behind it: p2 (its own firm, its own link) posts p1's offer and slot from its own page and straight to scheduling, a
link of another case names this case's offer, a forged link names p1; none books p1's call, and p2's page and API
answers show nothing of p1. A form posted without its CSRF token is refused."""

from __future__ import annotations

import httpx
import jwt

from mednet_shared.platform.auth import Role
from browser.test_side_pages import side_link_in_mail, side_view, token_of


def p1_status(stack, case) -> str:
    headers = {"Authorization": f"Bearer {stack.token(Role.MEDIATOR, mediator_id=case.mediator_id)}"}
    calls = httpx.get(f"{stack.url['scheduling']}/v1/cases/{case.case_id}/calls", headers=headers, timeout=30).json()
    return next(call["status"] for call in calls["calls"] if call["party_id"] == "p1")


def test_another_sides_link_neither_sees_nor_changes_the_first_sides_call(browser_stack, page, shot, axe):
    stack = browser_stack
    case, other_case = stack.open_case(), stack.open_case()
    p1_link = side_link_in_mail(stack.mailbox, case.party("p1")["contact"]["email"], stack.url["console"])
    p1_offer = side_view(stack, p1_link)["offer"]
    p2_link = side_link_in_mail(stack.mailbox, case.party("p2")["contact"]["email"], stack.url["console"])
    elsewhere = side_link_in_mail(stack.mailbox, other_case.party("p1")["contact"]["email"], stack.url["console"])
    p1_secrets = [p1_offer["offer_id"], *(s["slot_id"] for s in p1_offer["slots"]),
                  case.party("p1")["contact"]["email"], case.party("p1")["attorney"]["email"]]

    # p2's page shows p2 only
    page.goto(p2_link)
    html = page.content()
    assert not [secret for secret in p1_secrets if secret in html], "p2's page shows something of p1"
    axe(page)
    shot(page, "p2-page")

    # from p2's own page (its session, its CSRF token), p1's offer and slot
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    refused = page.request.post(f"{stack.url['console']}/side/choose", form={
        "csrf_token": csrf, "offer_id": p1_offer["offer_id"], "slot_id": p1_offer["slots"][0]["slot_id"]})
    assert refused.status == 404, refused.text()
    assert "not found, or not yours" in refused.text()

    # straight to scheduling with p2's link, and with a link of another case
    for link, own in ((p2_link, (case.case_id, "p2")), (elsewhere, (other_case.case_id, "p1"))):
        side = {"X-Side-Link": token_of(link)}
        answer = httpx.post(f"{stack.url['scheduling']}/v1/side/choose", params={"offer": p1_offer["offer_id"]},
                            json={"slot_id": p1_offer["slots"][0]["slot_id"]}, headers=side, timeout=30)
        assert answer.status_code == 404, answer.text
        seen = httpx.get(f"{stack.url['scheduling']}/v1/side", headers=side, timeout=30)
        assert seen.status_code == 200 and (seen.json()["case_id"], seen.json()["party_id"]) == own
        assert not [secret for secret in p1_secrets if secret in seen.text], "p1 shows through another link"
        prepared = httpx.get(f"{stack.url['notes']}/v1/side/preparation", headers=side, timeout=30)
        assert prepared.status_code == 200 and (prepared.json()["case_id"], prepared.json()["party_id"]) == own

    # a link forged for p1 (p2's link re-signed with a guessed key) is refused
    claims = jwt.decode(token_of(p2_link), options={"verify_signature": False})
    forged = jwt.encode({**claims, "party": "p1"}, "a-guessed-key-of-at-least-32-characters!", algorithm="HS256",
                        headers={"kid": jwt.get_unverified_header(token_of(p2_link))["kid"]})
    for service, path in (("scheduling", "/v1/side"), ("notes", "/v1/side/preparation")):
        answer = httpx.get(stack.url[service] + path, headers={"X-Side-Link": forged}, timeout=30)
        assert answer.status_code == 403, answer.text
    page.goto(f"{stack.url['console']}/side?token={forged}")
    assert "This link is not valid" in page.inner_text("main")
    axe(page)
    shot(page, "forged-link")

    assert p1_status(stack, case) == "offered", "p1's call was changed by another side"

    # a form of p2's page posted without its CSRF token
    page.goto(p2_link)
    missing = page.request.post(f"{stack.url['console']}/side/readiness", form={"item": "agreement_signed"})
    assert missing.status == 403 and "security token" in missing.text()
