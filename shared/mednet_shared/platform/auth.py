"""Bearer JWTs (PyJWT): who is calling, as firm, mediator or operator, and for which firm or mediator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

import jwt
from fastapi import Depends, HTTPException, Request, status

from ..contracts.values import utc_now

ISSUER = "mednet"
AUDIENCE = "mednet-api"


class Role(StrEnum):
    FIRM = "firm"
    MEDIATOR = "mediator"
    OPERATOR = "operator"


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    firm_id: str | None = None
    mediator_id: str | None = None


class AuthError(ValueError):
    pass


def issue_token(secret: str, role: Role, *, firm_id: str | None = None, mediator_id: str | None = None,
                subject: str | None = None, ttl: timedelta = timedelta(hours=8)) -> str:
    now = utc_now()
    claims = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + ttl, "role": str(role),
              "sub": subject or firm_id or mediator_id or str(role)}
    if firm_id:
        claims["firm_id"] = firm_id
    if mediator_id:
        claims["mediator_id"] = mediator_id
    return jwt.encode(claims, secret, algorithm="HS256")


def verify_token(secret: str, token: str) -> Principal:
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER,
                            options={"require": ["exp", "iat", "sub", "role"]})
    except jwt.PyJWTError as error:
        raise AuthError(f"invalid token: {error}") from None
    try:
        role = Role(claims["role"])
    except ValueError:
        raise AuthError(f"unknown role {claims['role']!r}") from None
    principal = Principal(claims["sub"], role, claims.get("firm_id"), claims.get("mediator_id"))
    if role is Role.FIRM and not principal.firm_id:
        raise AuthError("a firm token must carry firm_id")
    if role is Role.MEDIATOR and not principal.mediator_id:
        raise AuthError("a mediator token must carry mediator_id")
    return principal


def authenticated(secret_of: Callable[[Request], str]) -> Callable[[Request], Principal]:
    """A FastAPI dependency: the caller's Principal, or 401."""

    def dependency(request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "a bearer token is required",
                                headers={"WWW-Authenticate": "Bearer"})
        try:
            return verify_token(secret_of(request), token)
        except AuthError as error:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(error),
                                headers={"WWW-Authenticate": "Bearer"}) from None

    return dependency


def runtime_secret(request: Request) -> str:
    return request.app.state.runtime.settings.jwt_secret


caller = authenticated(runtime_secret)


def require(*roles: Role) -> Callable[..., Principal]:
    """A FastAPI dependency that admits only the given roles (403 otherwise)."""

    def dependency(principal: Principal = Depends(caller)) -> Principal:
        if principal.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs a {' or '.join(roles)} token")
        return principal

    return dependency
