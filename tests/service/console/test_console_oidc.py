"""Sign-in through OpenID Connect against a real local provider (tests/service/console/oidc_provider.py):
authorization code with PKCE S256, state and nonce; the access token must verify as the services verify it and
name a mediator."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from mednet_console.app import build
from mednet_console.config import Settings
from mednet_console.sessions import MemorySessionStore
from oidc_provider import Provider

DOWN = "http://127.0.0.1:9"


@pytest.fixture
def provider():
    provider = Provider()
    server, thread = provider.serve()
    yield provider
    server.should_exit = True
    thread.join(10)


@pytest.fixture
async def console(provider):
    settings = Settings(public_url="http://console.test", oidc_client_id=provider.client_id,
                        oidc_client_secret=provider.client_secret,
                        oidc_discovery_url=f"{provider.issuer}/.well-known/openid-configuration",
                        jwt_jwks_url=f"{provider.issuer}/jwks", jwt_issuer=provider.issuer, jwt_keys="",
                        jwt_active_kid="", **{f"{n}_url": DOWN for n in ("intake", "scheduling", "notes", "notify")})
    app = build(settings, MemorySessionStore())
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console.test") as http:
            yield http


async def at_provider(console: httpx.AsyncClient) -> tuple[str, dict]:
    """The console's redirect to the provider, then the provider's answer (the user signs in there)."""
    start = await console.get("/login/oidc")
    assert start.status_code == 303, start.text
    authorize = start.headers["location"]
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(authorize)
    assert answer.status_code == 302, answer.text
    callback = urlparse(answer.headers["location"])
    assert f"{callback.scheme}://{callback.netloc}{callback.path}" == "http://console.test/login/oidc/callback"
    return f"{callback.path}?{callback.query}", parse_qs(urlparse(authorize).query)


async def test_a_mediator_signs_in_with_code_pkce_state_and_nonce(console, provider):
    callback, asked = await at_provider(console)
    assert asked["code_challenge_method"] == ["S256"] and asked["state"] and asked["nonce"]
    signed_in = await console.get(callback)
    assert signed_in.status_code == 303 and signed_in.headers["location"].endswith("/agenda"), signed_in.text
    assert "httponly" in signed_in.headers["set-cookie"].lower() and provider.redeemed
    agenda = await console.get("/agenda")
    assert agenda.status_code == 200 and "Sign out" in agenda.text and "Scheduling is not answering" in agenda.text


async def test_a_callback_used_twice_or_with_a_forged_state_is_refused(console, provider):
    callback, _ = await at_provider(console)
    assert (await console.get(callback)).status_code == 303
    console.cookies.clear()
    again = await console.get(callback)
    assert again.status_code == 401 and "expired or was used already" in again.text and not console.cookies
    forged = await console.get("/login/oidc/callback?code=stolen&state=made-up")
    assert forged.status_code == 401 and not console.cookies


async def test_an_identity_token_answering_another_sign_in_is_refused(console, provider):
    provider.wrong_nonce = True
    callback, _ = await at_provider(console)
    answer = await console.get(callback)
    assert answer.status_code == 401 and "its nonce differs" in answer.text and not console.cookies


@pytest.mark.parametrize("user, reason", [
    ({"sub": "ops@example.org", "role": "operator", "mediator_id": ""}, "not a mediator"),
    ({"sub": "x@example.org", "role": "mediator", "mediator_id": ""}, "must carry mediator_id"),
])
async def test_an_account_that_is_not_a_mediator_s_is_refused(console, provider, user, reason):
    provider.user = user
    callback, _ = await at_provider(console)
    answer = await console.get(callback)
    assert answer.status_code == 401 and reason in answer.text and not console.cookies


async def test_a_token_about_to_end_is_renewed_with_the_refresh_token_and_a_refused_renewal_ends_the_session(
        console, provider):
    provider.lifetime = 120   # within the five minutes before its end: every request renews it
    callback, _ = await at_provider(console)
    assert (await console.get(callback)).status_code == 303
    assert (await console.get("/agenda")).status_code == 200 and provider.refreshed == 1
    assert (await console.get("/settings")).status_code == 200 and provider.refreshed == 2
    provider.refresh_tokens.clear()   # the issuer revoked it
    ended = await console.get("/agenda")
    assert ended.status_code == 303 and ended.headers["location"].endswith("/login")
    assert "Your sign-in has ended" in (await console.get("/login")).text
