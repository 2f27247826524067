"""Sign-in links and settings: the issuer's ten-minute mediator token with a jti, and a console that fails closed."""

import json
import secrets
from datetime import timedelta

import jwt
import pytest
from pydantic import ValidationError

from mednet_console.config import Settings
from mednet_console.login import LINK_TTL, LinkRefused, link_claims, link_token_claims, login_link
from mednet_shared.platform.auth import Role, TokenPolicy, token_claims

KEYS = {"k1": secrets.token_urlsafe(32).encode()}
POLICY = TokenPolicy(KEYS, "k1")
SERVICES = {f"{name}_url": "http://127.0.0.1:1" for name in ("intake", "scheduling", "notes", "notify")}
JWT = {"jwt_keys": json.dumps({k: v.decode() for k, v in KEYS.items()}), "jwt_active_kid": "k1", "jwt_jwks_url": ""}


def signed(claims: dict, key: bytes = KEYS["k1"]) -> str:
    return jwt.encode(claims, key, algorithm="HS256", headers={"kid": "k1"})


def test_a_link_carries_a_ten_minute_mediator_token_with_a_jti():
    claims = link_claims("med-ada")
    assert claims["exp"] - claims["iat"] == LINK_TTL and claims["mediator_id"] == "med-ada" and claims["jti"]
    assert link_claims("med-ada")["jti"] != claims["jti"]
    token = signed(claims)
    assert link_token_claims(POLICY, token)["jti"] == claims["jti"]
    assert login_link("http://console.test/", token) == f"http://console.test/login/link?token={token}"


@pytest.mark.parametrize("claims, reason", [   # made when the test runs: a token made at collection may expire
    (lambda: token_claims(Role.MEDIATOR, mediator_id="m", ttl=timedelta(minutes=10)), "no one-time id"),
    (lambda: {**token_claims(Role.MEDIATOR, mediator_id="m", ttl=timedelta(minutes=11)), "jti": "j"},
     "longer than ten"),
    (lambda: {**token_claims(Role.OPERATOR, ttl=timedelta(minutes=5)), "jti": "j"}, "not for a mediator"),
    (lambda: {**token_claims(Role.MEDIATOR, mediator_id="m", ttl=timedelta(minutes=5)), "jti": "j", "aud": "other"},
     "not valid"),
], ids=["no-jti", "too-long", "operator", "other-audience"])
def test_a_link_that_is_not_a_one_time_mediator_link_is_refused_in_plain_words(claims, reason):
    with pytest.raises(LinkRefused, match=reason):
        link_token_claims(POLICY, signed(claims()))


def test_a_forged_or_expired_link_is_refused():
    with pytest.raises(LinkRefused, match="not valid"):
        link_token_claims(POLICY, signed(link_claims("m"), secrets.token_urlsafe(32).encode()))
    stale = link_claims("m")
    stale.update(iat=stale["iat"] - timedelta(minutes=20), exp=stale["exp"] - timedelta(minutes=20))
    with pytest.raises(LinkRefused, match="expired"):
        link_token_claims(POLICY, signed(stale))


def test_the_console_refuses_to_start_without_its_addresses_or_a_way_to_sign_in():
    Settings(public_url="https://console.example", login_links=True, **SERVICES, **JWT)
    with pytest.raises(ValidationError, match="MEDNET_CONSOLE_PUBLIC_URL is required"):
        Settings(login_links=True, **SERVICES, **JWT)
    with pytest.raises(ValidationError, match="MEDNET_CONSOLE_NOTES_URL"):
        Settings(public_url="https://c.example", login_links=True, **{**SERVICES, "notes_url": ""}, **JWT)
    with pytest.raises(ValidationError, match="no way to sign in"):
        Settings(public_url="https://c.example", **SERVICES, **JWT)
    with pytest.raises(ValidationError, match="no JWT verification keys"):
        Settings(public_url="https://c.example", login_links=True, **SERVICES, jwt_keys="", jwt_jwks_url="")


def test_half_an_openid_connect_configuration_is_refused():
    oidc = {"oidc_discovery_url": "https://id.example/.well-known/openid-configuration", "oidc_client_id": "console",
            "oidc_client_secret": "s3cret"}
    assert Settings(public_url="https://c.example", **oidc, **SERVICES, **JWT).oidc
    for missing in oidc:
        with pytest.raises(ValidationError, match=f"set MEDNET_CONSOLE_{missing.upper()} too"):
            Settings(public_url="https://c.example", **{**oidc, missing: ""}, **SERVICES, **JWT)
    assert Settings(public_url="https://c.example", login_links=True, **SERVICES, **JWT).secure_cookies
    assert not Settings(public_url="http://127.0.0.1:8105", login_links=True, **SERVICES, **JWT).secure_cookies
