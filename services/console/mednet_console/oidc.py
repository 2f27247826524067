"""Sign-in in a deployment: OpenID Connect's authorization-code flow with PKCE (S256), state and nonce, against the
configured issuer. The access token it returns is the user's own token for the services: the console accepts it
only if it verifies as the services verify it (MEDNET_JWT_*: the same JWKS, issuer and audience) and names a
mediator."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx
import jwt
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from mednet_shared.contracts.values import utc_now
from mednet_shared.platform.auth import AuthError, Role, verify_token

from .login import policy_of, signed_in_as
from .sessions import new_session, replace
from .web import page

router = APIRouter(include_in_schema=False)
PENDING_MINUTES = 10
REFRESH_BEFORE = timedelta(minutes=5)
CALLBACK = "/login/oidc/callback"


class OidcRefused(ValueError):
    pass


class Provider:
    """The issuer's discovery document and its JWKS client, fetched once."""

    def __init__(self, settings, http: httpx.AsyncClient) -> None:
        self.settings, self.http = settings, http
        self.metadata: dict | None = None
        self.keys: jwt.PyJWKClient | None = None

    async def discovered(self) -> dict:
        if self.metadata is None:
            answer = await self.http.get(self.settings.oidc_discovery_url)
            answer.raise_for_status()
            metadata = answer.json()
            missing = [k for k in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri") if k not in metadata]
            if missing:
                raise OidcRefused(f"the issuer's discovery document lacks {', '.join(missing)}")
            self.metadata, self.keys = metadata, jwt.PyJWKClient(metadata["jwks_uri"], timeout=5)
        return self.metadata

    def id_claims(self, id_token: str, nonce: str) -> dict:
        try:
            key = self.keys.get_signing_key_from_jwt(id_token)
            claims = jwt.decode(id_token, key.key, algorithms=["RS256", "ES256"], audience=self.settings.oidc_client_id,
                                issuer=self.metadata["issuer"], options={"require": ["exp", "iat", "sub", "nonce"]})
        except jwt.PyJWTError as error:
            raise OidcRefused(f"the identity token is not valid ({error})") from None
        if not secrets.compare_digest(str(claims["nonce"]), nonce):
            raise OidcRefused("the identity token is not the answer to this sign-in (its nonce differs)")
        return claims


def provider_of(request: Request) -> Provider:
    state = request.app.state
    if getattr(state, "oidc", None) is None:
        state.oidc = Provider(state.settings, state.http)
    return state.oidc


def redirect_uri(request: Request) -> str:
    return request.app.state.settings.public_url.rstrip("/") + CALLBACK


def refused(request: Request, message: str):
    return page(request, "error.html", 401, title="Cannot sign in", message=message)


@router.get("/login/oidc", name="oidc_start")
async def oidc_start(request: Request):
    settings = request.app.state.settings
    if not settings.oidc:
        raise HTTPException(404, "Sign-in with an organisation's account is not configured here.")
    try:
        metadata = await provider_of(request).discovered()
    except (httpx.HTTPError, ValueError):
        return page(request, "error.html", 503, title="Cannot sign in",
                    message="The sign-in service is not answering right now. Try again in a moment.")
    state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    await request.app.state.sessions.hold_pending(state, {"nonce": nonce, "verifier": verifier},
                                                  utc_now() + timedelta(minutes=PENDING_MINUTES))
    query = {"response_type": "code", "client_id": settings.oidc_client_id, "redirect_uri": redirect_uri(request),
             "scope": settings.oidc_scope, "state": state, "nonce": nonce,
             "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256"}
    return RedirectResponse(f"{metadata['authorization_endpoint']}?{urlencode(query)}", status_code=303)


@router.get(CALLBACK, name="oidc_callback")
async def oidc_callback(request: Request, state: str = "", code: str = "", error: str = ""):
    pending = await request.app.state.sessions.take_pending(state) if state else None
    if pending is None:
        return refused(request, "This sign-in has expired or was used already. Please start again.")
    if error or not code:
        return refused(request, f"The sign-in service did not sign you in ({error or 'no code'}).")
    settings, provider = request.app.state.settings, provider_of(request)
    try:
        metadata = await provider.discovered()
        answer = await request.app.state.http.post(
            metadata["token_endpoint"], auth=(settings.oidc_client_id, settings.oidc_client_secret.get_secret_value()),
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri(request),
                  "code_verifier": pending["verifier"]})
    except httpx.HTTPError:
        return page(request, "error.html", 503, title="Cannot sign in",
                    message="The sign-in service is not answering right now. Try again in a moment.")
    if answer.status_code != 200:
        return refused(request, "The sign-in service refused this sign-in. Please start again.")
    tokens = answer.json()
    try:
        await run_in_threadpool(provider.id_claims, tokens.get("id_token", ""), pending["nonce"])
        principal = await run_in_threadpool(verify_token, policy_of(request), tokens.get("access_token", ""))
    except OidcRefused as why:
        return refused(request, f"Cannot sign you in: {why}.")
    except AuthError as why:
        return refused(request, f"Your account's token is not accepted by mednet ({why}).")
    if principal.role is not Role.MEDIATOR:
        return refused(request, "These pages are for mediators; your account is not a mediator's.")
    expires = datetime.fromtimestamp(jwt.decode(tokens["access_token"], options={"verify_signature": False})["exp"],
                                     UTC)
    session = new_session("mediator", principal.subject, tokens["access_token"], expires, settings.session_hours,
                          mediator_id=principal.mediator_id, refresh_token=tokens.get("refresh_token", ""))
    return await signed_in_as(request, session)


async def refreshed(request: Request, session_id: str, session):
    """A session whose access token ends within five minutes, renewed with its refresh token (the same checks as at
    sign-in); None when the issuer refuses: the session ends."""
    if not session.refresh_token or session.token_expires - utc_now() > REFRESH_BEFORE:
        return session
    settings, sessions = request.app.state.settings, request.app.state.sessions
    try:
        metadata = await provider_of(request).discovered()
        answer = await request.app.state.http.post(
            metadata["token_endpoint"], auth=(settings.oidc_client_id, settings.oidc_client_secret.get_secret_value()),
            data={"grant_type": "refresh_token", "refresh_token": session.refresh_token})
    except (httpx.HTTPError, ValueError):
        return session if session.live(utc_now()) else None
    token = answer.json().get("access_token", "") if answer.status_code == 200 else ""
    try:
        principal = await run_in_threadpool(verify_token, policy_of(request), token)
    except AuthError:
        principal = None
    if principal is None or principal.role is not Role.MEDIATOR or principal.mediator_id != session.mediator_id:
        await sessions.delete(session_id)
        return None
    renewed = replace(session, token=token, refresh_token=answer.json().get("refresh_token", session.refresh_token),
                      token_expires=datetime.fromtimestamp(
                          jwt.decode(token, options={"verify_signature": False})["exp"], UTC))
    await sessions.replace(session_id, renewed)
    return renewed
