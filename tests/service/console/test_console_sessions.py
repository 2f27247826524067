"""The console in process with its in-memory session store, the other services unreachable: sign-in by one-time
link, the session cookie, CSRF on every unsafe request, and pages that say in plain words what cannot be shown."""

from __future__ import annotations

import json
import secrets

import httpx
import jwt
import pytest

from mednet_console.app import build
from mednet_console.config import Settings
from mednet_console.login import link_claims, login_link
from mednet_console.sessions import MemorySessionStore, digest
from mednet_console.web import COOKIE

KEY = secrets.token_urlsafe(32)
DOWN = "http://127.0.0.1:9"  # discard port: nothing answers


def settings(public_url: str = "http://console.test") -> Settings:
    return Settings(public_url=public_url, login_links=True, jwt_keys=json.dumps({"k1": KEY}), jwt_active_kid="k1",
                    jwt_jwks_url="", **{f"{n}_url": DOWN for n in ("intake", "scheduling", "notes", "notify")})


def link_token(mediator_id: str = "med-ada") -> str:
    return jwt.encode(link_claims(mediator_id), KEY, algorithm="HS256", headers={"kid": "k1"})


@pytest.fixture
async def console():
    store = MemorySessionStore()
    app = build(settings(), store)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console.test") as http:
            http.store = store
            yield http


async def signed_in(http: httpx.AsyncClient) -> str:
    answer = await http.get(login_link("http://console.test", link_token()))
    assert answer.status_code == 303 and answer.headers["location"].endswith("/agenda"), answer.text
    return answer.headers["set-cookie"]


def csrf_of(html: str) -> str:
    return html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


async def test_a_link_opens_a_session_once_with_a_hashed_id_in_an_httponly_lax_cookie(console):
    token = link_token()
    first = await console.get(login_link("http://console.test", token))
    cookie = first.headers["set-cookie"].lower()
    assert first.status_code == 303 and "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    session_id = console.cookies[COOKIE]
    assert list(console.store.sessions) == [digest(session_id)] and session_id not in console.store.sessions
    console.cookies.clear()
    again = await console.get(login_link("http://console.test", token))
    assert again.status_code == 401 and "has been used already" in again.text
    assert not console.cookies


async def test_a_forged_link_is_refused_in_plain_words(console):
    forged = jwt.encode(link_claims("med-ada"), secrets.token_urlsafe(32), algorithm="HS256", headers={"kid": "k1"})
    answer = await console.get(login_link("http://console.test", forged))
    assert answer.status_code == 401 and "not valid" in answer.text and "Traceback" not in answer.text


async def test_an_unsafe_request_without_its_session_s_csrf_token_is_refused(console):
    await signed_in(console)
    settings_page = await console.get("/settings")
    assert settings_page.status_code == 200
    token = csrf_of(settings_page.text)
    for attempt in ({}, {"csrf_token": "forged"}):
        refused = await console.post("/settings/conferencing", data={"kind": "callback", "phone": "+4420", **attempt})
        assert refused.status_code == 403 and "sent without its security token" in refused.text
    refused = await console.post("/calls/c:p1/notes", data={"free_text": "x"}, headers={"X-CSRF-Token": "no"})
    assert refused.status_code == 403
    accepted = await console.post("/settings/conferencing", data={"kind": "callback", "phone": "+4420",
                                                                  "csrf_token": token})
    assert accepted.status_code == 502 and "Scheduling is not answering" in accepted.text  # past the CSRF check
    header = await console.post("/calls/c:p1/notes", data={"free_text": "x"},
                                headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert header.status_code == 502 and header.json()["saved"] is False


async def test_another_session_s_csrf_token_does_not_pass(console):
    await signed_in(console)
    theirs = csrf_of((await console.get("/settings")).text)
    console.cookies.clear()
    await signed_in(console)
    refused = await console.post("/logout", data={"csrf_token": theirs})
    assert refused.status_code == 403


async def test_pages_say_which_service_is_not_answering_and_never_show_a_trace(console):
    await signed_in(console)
    for path in ("/agenda", "/cases/c1", "/calls/c1:p1", "/cases/c1/brief", "/settings"):
        answer = await console.get(path)
        assert answer.status_code in (200, 404), (path, answer.status_code)
        assert "is not answering right now" in answer.text and "Traceback" not in answer.text, path


async def test_without_a_session_pages_send_to_sign_in_and_sign_out_ends_the_session(console):
    assert (await console.get("/agenda")).headers["location"].endswith("/login")
    await signed_in(console)
    token = csrf_of((await console.get("/settings")).text)
    out = await console.post("/logout", data={"csrf_token": token})
    assert out.status_code == 303 and not console.store.sessions
    assert (await console.get("/agenda")).headers["location"].endswith("/login")


def test_cookies_are_secure_when_the_console_is_served_over_https():
    assert settings("https://console.example").secure_cookies


async def test_with_notes_down_the_agenda_still_lists_scheduling_s_calls_and_each_readiness_says_why(console):
    """Scheduling answers (an in-memory stand-in on its address), notes does not."""
    agenda = {"mediator_id": "med-ada", "time_zone": "Asia/Kolkata", "calls": [
        {"call_id": "case-1:p1", "case_id": "case-1", "party_id": "p1", "party_name": "Alex Claimant",
         "party_role": "claimant", "start": "2026-03-24T09:00:00+00:00", "end": "2026-03-24T09:45:00+00:00"}]}

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/mediators/med-ada/agenda" and request.headers["authorization"].startswith("Bearer "):
            return httpx.Response(200, json=agenda)
        raise httpx.ConnectError("refused", request=request)

    app = console._transport.app
    await app.state.http.aclose()
    app.state.http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    await signed_in(console)
    page = (await console.get("/agenda")).text
    assert "Tuesday 24 March 2026" in page and "14:30" in page and "Alex Claimant" in page   # 09:00 UTC in Kolkata
    assert "Times in Asia/Kolkata." in page and "Notes is not answering right now" in page
