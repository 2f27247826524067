"""Sign-in: a one-time link on the local stack, OpenID Connect in a deployment; sign-out."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import jwt
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from mednet_shared.platform.auth import AuthError, Role, TokenPolicy, token_claims, verify_token

from .sessions import new_session
from .web import COOKIE, open_session, page

router = APIRouter(include_in_schema=False)
LINK_TTL = timedelta(minutes=10)
LINK_PATH = "/login/link"


def login_link(base_url: str, token: str) -> str:
    """The one-time sign-in link for a token from the issuer (`mednet console login --mediator <id>`)."""
    return f"{base_url.rstrip('/')}{LINK_PATH}?{urlencode({'token': token})}"


def link_claims(mediator_id: str) -> dict:
    """The claims of a sign-in link's token: a mediator token of ten minutes with a jti (used once)."""
    return {**token_claims(Role.MEDIATOR, mediator_id=mediator_id, ttl=LINK_TTL), "jti": secrets.token_urlsafe(16)}


class LinkRefused(ValueError):
    pass


def link_token_claims(policy: TokenPolicy, token: str) -> dict:
    """A sign-in link's verified claims: the issuer's signature, a mediator, a jti, at most ten minutes."""
    try:
        verify_token(policy, token)
    except AuthError as error:
        expired = "expired" in str(error).lower()
        raise LinkRefused("This sign-in link has expired. Ask for a new one." if expired else
                          "This sign-in link is not valid. Ask for a new one.") from None
    claims = jwt.decode(token, options={"verify_signature": False})
    if claims.get("role") != Role.MEDIATOR:
        raise LinkRefused("This sign-in link is not for a mediator.")
    if not isinstance(claims.get("jti"), str) or not claims["jti"]:
        raise LinkRefused("This is not a sign-in link (it has no one-time id).")
    if float(claims["exp"]) - float(claims["iat"]) > LINK_TTL.total_seconds():
        raise LinkRefused("This sign-in link lives longer than ten minutes; it is refused.")
    return claims


def policy_of(request: Request) -> TokenPolicy:
    state = request.app.state
    if getattr(state, "token_policy", None) is None:
        state.token_policy = TokenPolicy.of(state.settings)
    return state.token_policy


@router.get("/login", name="sign_in_page")
async def sign_in_page(request: Request):
    settings = request.app.state.settings
    return page(request, "login.html", oidc=settings.oidc, links=settings.login_links,
                ended=request.cookies.get(COOKIE) is not None and request.state.session is None)


@router.get(LINK_PATH, name="sign_in_by_link")
async def sign_in_by_link(request: Request, token: str = ""):
    if not request.app.state.settings.login_links:
        raise HTTPException(404, "Sign-in links are not accepted here; sign in with your organisation's account.")
    try:
        claims = await run_in_threadpool(link_token_claims, policy_of(request), token)
    except LinkRefused as refused:
        return page(request, "error.html", 401, title="Cannot sign in", message=str(refused))
    expires = datetime.fromtimestamp(claims["exp"], UTC)
    if not await request.app.state.sessions.use_link(claims["jti"], expires):
        return page(request, "error.html", 401, title="Cannot sign in",
                    message="This sign-in link has been used already. Ask for a new one.")
    session = new_session("mediator", claims["sub"], token, expires, request.app.state.settings.session_hours,
                          mediator_id=claims["mediator_id"])
    return await signed_in_as(request, session)


async def signed_in_as(request: Request, session) -> RedirectResponse:
    session_id = await request.app.state.sessions.create(session)
    response = RedirectResponse(request.url_for("agenda"), status_code=303)
    open_session(request, response, session_id)
    return response


@router.post("/logout", name="sign_out")
async def sign_out(request: Request):
    await request.app.state.sessions.delete(request.state.session_id)
    response = RedirectResponse(request.url_for("sign_in_page"), status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
