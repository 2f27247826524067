"""Every HTTP route of every service (from its OpenAPI document, so a new route cannot escape) refuses
forged, expired, wrong-audience, wrong-issuer, unknown-key and unsigned tokens with 401 and a specific reason,
and answers another firm or another mediator with 404 for a case or call not theirs (403 only where their role
may not use the route at all), never with the data."""

from __future__ import annotations

import asyncio
import importlib
import json
from datetime import timedelta

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mednet_shared.contracts.values import utc_now
from mednet_shared.platform.auth import Role, TokenPolicy, issue_token
from routes import PROBES, SERVICES, probes_of, routes_of
from sample_cases import submission
from offers_helpers import choose_first_http
from services_harness import client, running, services, settings_for

pytestmark = pytest.mark.timeout(600)
KEYS = json.dumps({"k2": "the-active-key-of-the-security-tests", "k1": "the-older-key-still-accepted-here"})
DUMMIES = {"case_id": "case-0", "call_id": "case-0:p1", "endpoint_id": "e-0", "mediator_id": "med-0",
           "recipient": "someone@example.org", "party_id": "p1", "offer_id": "case-0:p1:offer-1",
           "item": "agreement_signed", "document_id": "doc-0"}


def claims(**overrides) -> dict:
    now = utc_now()
    return {"iss": "mednet", "aud": "mednet-api", "iat": now, "exp": now + timedelta(minutes=5), "sub": "firm-x",
            "role": "firm", "firm_id": "firm-x", **overrides}


def bad_tokens() -> dict[str, tuple[str | None, str]]:
    """name -> (token, a phrase the 401's reason must contain)."""
    k2 = json.loads(KEYS)["k2"]
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "none": (None, "bearer token is required"),
        "garbage": ("not-a-jwt", "invalid token"),
        "forged": (jwt.encode(claims(), "a-secret-that-is-not-ours-at-all", "HS256", {"kid": "k2"}),
                   "Signature verification failed"),
        "expired": (jwt.encode(claims(exp=utc_now() - timedelta(seconds=5)), k2, "HS256", {"kid": "k2"}), "expired"),
        "wrong audience": (jwt.encode(claims(aud="another-api"), k2, "HS256", {"kid": "k2"}), "Audience"),
        "wrong issuer": (jwt.encode(claims(iss="someone-else"), k2, "HS256", {"kid": "k2"}), "issuer"),
        "unknown kid": (jwt.encode(claims(), k2, "HS256", {"kid": "k9"}), "unknown key id"),
        "no kid": (jwt.encode(claims(), k2, "HS256"), "'kid'"),
        "no expiry": (jwt.encode({k: v for k, v in claims().items() if k != "exp"}, k2, "HS256", {"kid": "k2"}),
                      "exp"),
        "unsigned": (jwt.encode(claims(), None, "none", {"kid": "k2"}), "algorithm 'none'"),
        "RS256 without JWKS": (jwt.encode(claims(), rsa_key, "RS256", {"kid": "k2"}), "algorithm 'RS256'"),
    }


def built(service: str, infrastructure, unique: str):
    settings = settings_for(service, infrastructure, unique, jwt_keys=KEYS, jwt_active_kid="k2")
    return importlib.import_module(f"mednet_{service}.app").build(settings)


async def test_every_route_refuses_bad_tokens_with_401_and_a_specific_reason(infrastructure, unique):
    tokens = bad_tokens()
    checked = 0
    for service in SERVICES:
        app = built(service, infrastructure, unique)
        assert probes_of(app) == PROBES, f"{service}: only the probes may answer without a token"
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service") as http:
            for route in routes_of(service, app):
                path, query = route.url(DUMMIES)
                for name, (token, reason) in tokens.items():
                    headers = {"Authorization": f"Bearer {token}"} if token else {}
                    response = await http.request(route.method, path, params=query, headers=headers, json={})
                    assert response.status_code == 401, f"{route} with a {name} token: {response.status_code}"
                    assert reason in response.json()["detail"], f"{route} {name}: {response.json()['detail']}"
                    assert response.headers["www-authenticate"] == "Bearer"
                    checked += 1
        denied = await app.state.audit.find({"outcome": "denied", "who.reason": {"$regex": "expired"}}).to_list()
        assert denied, f"{service}: refused calls are audited with their reason"
    assert checked >= 11 * 20


async def test_tokens_of_the_old_key_still_work_until_it_is_dropped(infrastructure, unique):
    app = built("intake", infrastructure, unique)
    old = TokenPolicy.parse(KEYS, "k1")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service") as http:
        token = issue_token(old, Role.OPERATOR)
        assert (await http.get("/v1/cases/none", headers={"Authorization": f"Bearer {token}"})).status_code == 404
    dropped = settings_for("intake", infrastructure, unique, jwt_keys=json.dumps({"k2": json.loads(KEYS)["k2"]}),
                           jwt_active_kid="k2")
    app = importlib.import_module("mednet_intake.app").build(dropped)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service") as http:
        refused = await http.get("/v1/cases/none", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401 and "unknown key id 'k1'" in refused.json()["detail"]


FIRM_OWN_COLLECTIONS = {("intake", "post", "/v1/cases"), ("notify", "get", "/v1/webhooks"),
                        ("notify", "post", "/v1/webhooks")}
MEDIATOR_OWN_COLLECTIONS = {("notify", "post", "/v1/replies")}  # names no case: the reply's UID says whose call


async def until(check, timeout: float = 120.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not (result := await check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{check.__name__} never became true")
        await asyncio.sleep(0.3)
    return result


async def test_another_firm_and_another_mediator_get_403_or_404_on_every_route(infrastructure, unique):
    firm, stranger, mediator = f"firm-{unique}", f"stranger-{unique}", f"med-{unique}"
    async with services(infrastructure, unique, *SERVICES,
                        overrides={"notify": {"webhook_allow_loopback_http": True}}) as apps:
        app = {name: apps[name][0] for name in SERVICES}
        async with client(app["intake"], Role.FIRM, firm_id=firm) as owner:
            created = await owner.post("/v1/cases", json=submission(f"iso-{unique}", mediator_id=mediator, represented_by=firm))
            assert created.status_code == 201, created.text
            case_id = created.json()["case_id"]
        async with client(app["notify"], Role.FIRM, firm_id=firm) as owner:
            endpoint = (await owner.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"})).json()

            async def notify_knows_the_case():
                return (await owner.get("/v1/notifications", params={"case_id": case_id})).status_code == 200
            await until(notify_knows_the_case)
        await choose_first_http(infrastructure.kafka_bootstrap_servers, app["scheduling"], firm, case_id, "p1")
        async with client(app["notes"], Role.MEDIATOR, mediator_id=mediator) as the_mediator:
            call_id = f"{case_id}:p1"

            async def notes_recorded():
                answer = await the_mediator.put(f"/v1/calls/{call_id}/notes",
                                                json={"observations": {"concerns": "private-marker"}})
                return answer.status_code == 200
            await until(notes_recorded)
        values = {"case_id": case_id, "call_id": call_id, "endpoint_id": endpoint["endpoint_id"],
                  "mediator_id": mediator, "recipient": f"{mediator}@mediators.example.org", "party_id": "p1",
                  "offer_id": f"{call_id}:offer-1", "item": "agreement_signed", "document_id": "doc-0"}

        checked = 0
        for service in SERVICES:
            for route in routes_of(service, app[service]):
                path, query = route.url(values)
                for role, caller in ((Role.FIRM, {"firm_id": stranger}),
                                     (Role.MEDIATOR, {"mediator_id": f"other-{unique}"})):
                    async with client(app[service], role, **caller) as other:
                        response = await other.request(route.method, path, params=query, json={})
                    own = FIRM_OWN_COLLECTIONS if role is Role.FIRM else MEDIATOR_OWN_COLLECTIONS
                    if (service, route.method, route.template) in own:
                        assert endpoint["endpoint_id"] not in response.text and case_id not in response.text
                        continue
                    assert response.status_code in (403, 404), f"{route} as another {role}: {response.status_code}"
                    if response.status_code == 403 and route.names_a_case:
                        assert "this needs a" in response.json()["detail"], \
                            f"{route}: a role that may use it gets 404 for a case not its own, never 403"
                    assert "private-marker" not in response.text
                    checked += 1
        assert checked >= 25

        async with client(app["notes"], Role.MEDIATOR, mediator_id=mediator) as the_mediator:
            mine = await the_mediator.get(f"/v1/calls/{call_id}/notes")
            assert mine.status_code == 200 and mine.json()["observations"]["concerns"] == "private-marker"
        async with client(app["intake"], Role.FIRM, firm_id=firm) as owner:
            assert (await owner.get(f"/v1/cases/{case_id}")).status_code == 200
            assert (await owner.get(f"/v1/cases/{case_id}")).json()["status"] == "open"
        async with client(app["notify"], Role.FIRM, firm_id=firm) as owner:
            assert [e["endpoint_id"] for e in (await owner.get("/v1/webhooks")).json()] == [endpoint["endpoint_id"]]


async def test_an_answer_is_withheld_when_its_audit_entry_cannot_be_written(infrastructure, unique):
    class Unwritable:
        async def insert_one(self, _):
            raise OSError("the audit database is down")

    async with running("notes", settings_for("notes", infrastructure, unique)) as notes_app:
        notes = notes_app.state.notes
        await notes.learn_case(f"case-{unique}", f"med-{unique}", 1, [])
        await notes.learn_call(f"case-{unique}", f"case-{unique}:p1", "p1", f"med-{unique}", "scheduled")
        async with client(notes_app, Role.MEDIATOR, mediator_id=f"med-{unique}") as the_mediator:
            saved = await the_mediator.put(f"/v1/calls/case-{unique}:p1/notes",
                                           json={"observations": {"concerns": "withheld-marker"}})
            assert saved.status_code == 200 and saved.headers["x-correlation-id"]
            notes_app.state.audit = Unwritable()
            withheld = await the_mediator.get(f"/v1/calls/case-{unique}:p1/notes")
        assert withheld.status_code == 503 and "withheld-marker" not in withheld.text
