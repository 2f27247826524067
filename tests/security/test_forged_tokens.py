"""Guessed and forged tokens against a notes service process that verifies ES256 tokens through a JWKS file:
every one gets 401 on the routes that read notes and the audit log; so do mediator and operator tokens that
live longer than an hour. A notes service with no keys, with two kinds of keys or with the retired single
secret refuses to start and says why in one line."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import time
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mednet_shared.contracts.values import utc_now
from service_processes import start_service, terminate, wait_status

pytestmark = pytest.mark.timeout(300)
OLD_DEFAULT_SECRET = "mednet-local-development-secret-change-me"
KID = "staff.1"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(claims: dict, secret: bytes | str, kid: str | None = KID) -> str:
    """HS256 by hand: PyJWT (rightly) refuses a public key as an HMAC secret, an attacker does not."""
    header = {"alg": "HS256", "typ": "JWT", **({"kid": kid} if kid else {})}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    secret = secret.encode() if isinstance(secret, str) else secret
    return f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def unsigned(claims: dict) -> str:
    return f"{b64(json.dumps({'alg': 'none', 'kid': KID}).encode())}.{b64(json.dumps(claims).encode())}."


def claims(role: str, lifetime: timedelta = timedelta(minutes=10), **extra) -> dict:
    now = int(utc_now().timestamp())
    scope = {"mediator_id": "med-forged"} if role == "mediator" else {}
    return {"iss": "mednet", "aud": "mednet-api", "iat": now, "exp": now + int(lifetime.total_seconds()),
            "sub": f"forged-{role}", "role": role, **scope, **extra}


@pytest.fixture(scope="module")
def issuer(tmp_path_factory):
    key = ec.generate_private_key(ec.SECP256R1())
    public = {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key())), "kid": KID, "alg": "ES256",
              "use": "sig"}
    path = tmp_path_factory.mktemp("issuer") / "jwks.json"
    path.write_text(json.dumps({"keys": [public]}))
    return key, public, path


@pytest.fixture(scope="module")
def notes(infrastructure, issuer, tmp_path_factory):
    log = tmp_path_factory.mktemp("notes") / "notes.log"
    process, url = start_service("notes", infrastructure.kafka_bootstrap_servers, infrastructure.mongodb_url, log,
                                 jwt={"MEDNET_JWT_JWKS_URL": issuer[2].as_uri()})
    try:
        wait_status(url, 200)
        yield url
    finally:
        terminate(process)


def forged_tokens(role: str, key, public: dict) -> dict[str, str]:
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    other = ec.generate_private_key(ec.SECP256R1())
    return {
        "the old default secret (kid default)": hs256(claims(role), OLD_DEFAULT_SECRET, "default"),
        "the old default secret": hs256(claims(role), OLD_DEFAULT_SECRET),
        "'secret'": hs256(claims(role), "secret"),
        "an empty secret": hs256(claims(role), ""),
        "the public key (PEM) as HMAC secret": hs256(claims(role), pem),
        "the public JWK as HMAC secret": hs256(claims(role), json.dumps(public)),
        "alg none": unsigned(claims(role)),
        "no kid": jwt.encode(claims(role), key, "ES256"),
        "an unknown kid": jwt.encode(claims(role), key, "ES256", {"kid": "staff.9"}),
        "another key under the real kid": jwt.encode(claims(role), other, "ES256", {"kid": KID}),
        "another key, embedded in the header": jwt.encode(claims(role), other, "ES256", {
            "kid": KID, "jwk": jwt.algorithms.ECAlgorithm.to_jwk(other.public_key(), as_dict=True)}),
        "a lifetime of 2 hours": jwt.encode(claims(role, timedelta(hours=2)), key, "ES256", {"kid": KID}),
        "a lifetime of 1 hour and 1 second": jwt.encode(claims(role, timedelta(seconds=3601)), key, "ES256",
                                                         {"kid": KID}),
    }


@pytest.mark.parametrize("role, path, allowed", [("operator", "/v1/audit", 200),
                                                  ("mediator", "/v1/calls/no-case:p1/notes", 404)])
def test_guessed_forged_and_long_lived_tokens_get_401(notes, issuer, role, path, allowed):
    import httpx

    key, public, _ = issuer
    accepted = {}
    for name, token in forged_tokens(role, key, public).items():
        response = httpx.get(notes + path, headers={"Authorization": f"Bearer {token}"})
        if response.status_code != 401:
            accepted[name] = f"{response.status_code} {response.text[:120]}"
    assert not accepted, f"{role} tokens accepted on {path}: {accepted}"
    genuine = jwt.encode(claims(role, timedelta(hours=1)), key, "ES256", {"kid": KID})
    assert httpx.get(notes + path, headers={"Authorization": f"Bearer {genuine}"}).status_code == allowed


def refused_start(infrastructure, tmp_path, jwt_environment: dict[str, str]) -> str:
    """The output of a notes process that must exit non-zero (it is stopped after 30 s if it does not)."""
    log = tmp_path / "notes.log"
    process, _ = start_service("notes", infrastructure.kafka_bootstrap_servers, infrastructure.mongodb_url, log,
                               jwt=jwt_environment)
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    if process.poll() is None:
        terminate(process)
        raise AssertionError(f"notes started with {sorted(jwt_environment)}: {log.read_text()[-500:]}")
    output = log.read_text()
    assert process.returncode != 0, output
    assert "Traceback" not in output and len(output.strip().splitlines()) == 1, output
    return output


def test_a_notes_service_without_keys_refuses_to_start(infrastructure, tmp_path):
    output = refused_start(infrastructure, tmp_path, {})
    assert "MEDNET_JWT_JWKS_URL" in output and "MEDNET_JWT_KEYS" in output, output


def test_a_notes_service_with_a_key_set_and_a_jwks_refuses_to_start(infrastructure, issuer, tmp_path):
    both = {"MEDNET_JWT_KEYS": json.dumps({"t1": "x" * 40}), "MEDNET_JWT_ACTIVE_KID": "t1",
            "MEDNET_JWT_JWKS_URL": issuer[2].as_uri()}
    output = refused_start(infrastructure, tmp_path, both)
    assert "both" in output and "MEDNET_JWT_KEYS" in output and "MEDNET_JWT_JWKS_URL" in output, output


def test_the_retired_single_secret_is_refused_by_name(infrastructure, tmp_path):
    output = refused_start(infrastructure, tmp_path, {"MEDNET_JWT_SECRET": "s" * 40})
    assert "MEDNET_JWT_SECRET" in output and "MEDNET_JWT_KEYS" in output, output


def test_a_plain_http_jwks_url_off_loopback_is_refused(infrastructure, tmp_path):
    output = refused_start(infrastructure, tmp_path, {"MEDNET_JWT_JWKS_URL": "http://issuer.example.org/jwks.json"})
    assert "https" in output, output


async def test_every_route_of_every_service_refuses_forged_tokens_in_jwks_mode(infrastructure, unique, tmp_path):
    """In-process, on every OpenAPI route: the same forgeries against the local issuer's JWKS, plus a firm's own
    key minting a staff token and a firm token signed with the staff key."""
    import importlib

    import httpx

    from mednet_cli.tokens import Issuer
    from routes import SERVICES, routes_of
    from services_harness import settings_for

    issuer = Issuer(tmp_path)
    issuer.add_firm(f"firm-{unique}")
    staff_jwk, firm_jwk = issuer.state["staff"], issuer.state["firms"][f"firm-{unique}"]
    staff_key = jwt.algorithms.ECAlgorithm.from_jwk(staff_jwk)
    firm_key = jwt.algorithms.ECAlgorithm.from_jwk(firm_jwk)
    public = {k: v for k, v in staff_jwk.items() if k != "d"}
    tokens = {f"{role}: {name}": token for role in ("operator", "mediator")
              for name, token in forged_tokens(role, staff_key, public).items()}
    tokens |= {
        "a firm's key minting an operator token": jwt.encode(claims("operator"), firm_key, "ES256",
                                                               {"kid": firm_jwk["kid"]}),
        "a firm token under the staff key": jwt.encode(claims("firm", firm_id=f"firm-{unique}"), staff_key, "ES256",
                                                       {"kid": staff_jwk["kid"]}),
        "another firm's key": jwt.encode(claims("firm", firm_id=f"other-{unique}"), firm_key, "ES256",
                                         {"kid": firm_jwk["kid"]}),
    }
    values = {"case_id": "case-0", "call_id": "case-0:p1", "endpoint_id": "e-0", "mediator_id": "med-forged",
              "recipient": "someone@example.org", "item": "agreement_signed", "document_id": "doc-0",
              "party_id": "p1", "offer_id": "case-0:p1:offer-1"}
    accepted, checked = [], 0
    for service in SERVICES:
        settings = settings_for(service, infrastructure, unique, jwt_jwks_url=issuer.verifier().jwks_url)
        app = importlib.import_module(f"mednet_{service}.app").build(settings)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service") as http:
            for route in routes_of(service, app):
                path, query = route.url(values)
                for name, token in tokens.items():
                    response = await http.request(route.method, path, params=query, json={},
                                                  headers={"Authorization": f"Bearer {token}"})
                    checked += 1
                    if response.status_code != 401:
                        accepted.append(f"{route} {name}: {response.status_code}")
    assert not accepted, accepted
    assert checked >= 20 * len(tokens)
