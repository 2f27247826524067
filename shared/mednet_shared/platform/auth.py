"""Bearer JWTs (PyJWT): who is calling, as firm, mediator or operator, and for which firm or mediator.

Every token names its key in the `kid` header. HS256 keys come from a key set (MEDNET_JWT_KEYS, kid -> secret)
and new tokens are signed with MEDNET_JWT_ACTIVE_KID, so rotating is: add a kid, switch the active one, drop
the old one once its tokens have expired. RS256 tokens are verified against a JWKS URL when one is configured.
iss, aud, exp, iat, sub and role are required.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from functools import lru_cache

import jwt
from fastapi import Depends, HTTPException, Request, status

from ..contracts.values import utc_now

ISSUER = "mednet"
AUDIENCE = "mednet-api"
FALLBACK_KID = "default"
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "sub", "role"]


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


@dataclass(frozen=True)
class TokenPolicy:
    """The keys that sign and verify tokens, and the issuer and audience a token must name."""

    keys: Mapping[str, str] = field(repr=False)
    active_kid: str
    issuer: str = ISSUER
    audience: str = AUDIENCE
    jwks_url: str | None = None
    minimum_secret_length: int = field(default=32, repr=False)

    def __post_init__(self) -> None:
        if not self.keys and not self.jwks_url:
            raise ValueError("no JWT keys: set MEDNET_JWT_KEYS (or MEDNET_JWT_SECRET) or MEDNET_JWT_JWKS_URL")
        if self.keys and self.active_kid not in self.keys:
            raise ValueError(f"MEDNET_JWT_ACTIVE_KID {self.active_kid!r} is not in the key set {sorted(self.keys)}")
        short = [kid for kid, secret in self.keys.items() if len(secret) < self.minimum_secret_length]
        if short:
            raise ValueError(f"JWT secrets must be at least {self.minimum_secret_length} characters: {short}")

    @classmethod
    def parse(cls, keys_json: str = "", active_kid: str = "", secret: str = "", issuer: str = ISSUER,
              audience: str = AUDIENCE, jwks_url: str = "") -> TokenPolicy:
        """From the configuration's text: a JSON key set, else the single secret under kid 'default'."""
        if keys_json:
            try:
                keys = json.loads(keys_json)
            except json.JSONDecodeError as error:
                raise ValueError(f"MEDNET_JWT_KEYS is not JSON: {error}") from None
            if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
                raise ValueError('MEDNET_JWT_KEYS must be a JSON object of kid -> secret, e.g. {"k1": "..."}')
        else:
            keys = {FALLBACK_KID: secret} if secret else {}
        active = active_kid or (next(iter(keys)) if len(keys) == 1 else "")
        return cls(keys, active, issuer, audience, jwks_url or None)

    @classmethod
    def of(cls, settings) -> TokenPolicy:
        return cls.parse(settings.jwt_keys, settings.jwt_active_kid, settings.jwt_secret, settings.jwt_issuer,
                         settings.jwt_audience, settings.jwt_jwks_url)

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> TokenPolicy:
        return cls.parse(environment.get("MEDNET_JWT_KEYS", ""), environment.get("MEDNET_JWT_ACTIVE_KID", ""),
                         environment.get("MEDNET_JWT_SECRET", ""), environment.get("MEDNET_JWT_ISSUER", ISSUER),
                         environment.get("MEDNET_JWT_AUDIENCE", AUDIENCE), environment.get("MEDNET_JWT_JWKS_URL", ""))


def issue_token(policy: TokenPolicy, role: Role, *, firm_id: str | None = None, mediator_id: str | None = None,
                subject: str | None = None, ttl: timedelta = timedelta(hours=8)) -> str:
    """An HS256 token signed with the active key."""
    now = utc_now()
    claims = {"iss": policy.issuer, "aud": policy.audience, "iat": now, "exp": now + ttl, "role": str(role),
              "sub": subject or firm_id or mediator_id or str(role)}
    if firm_id:
        claims["firm_id"] = firm_id
    if mediator_id:
        claims["mediator_id"] = mediator_id
    return jwt.encode(claims, policy.keys[policy.active_kid], algorithm="HS256",
                      headers={"kid": policy.active_kid})


@lru_cache(maxsize=8)
def jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)


def verification_key(policy: TokenPolicy, token: str) -> tuple[object, str]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise AuthError(f"invalid token: {error}") from None
    algorithm, kid = header.get("alg"), header.get("kid")
    if not kid:
        raise AuthError("the token has no 'kid' header")
    if algorithm == "HS256" and policy.keys:
        if kid not in policy.keys:
            raise AuthError(f"unknown key id {kid!r}")
        return policy.keys[kid], algorithm
    if algorithm == "RS256" and policy.jwks_url:
        try:
            return jwks_client(policy.jwks_url).get_signing_key(kid).key, algorithm
        except jwt.PyJWKClientError as error:
            raise AuthError(f"unknown key id {kid!r} ({error})") from None
    raise AuthError(f"algorithm {algorithm!r} is not accepted")


def verify_token(policy: TokenPolicy, token: str) -> Principal:
    key, algorithm = verification_key(policy, token)
    try:
        claims = jwt.decode(token, key, algorithms=[algorithm], audience=policy.audience, issuer=policy.issuer,
                            options={"require": REQUIRED_CLAIMS})
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


def authenticated(policy_of: Callable[[Request], TokenPolicy]) -> Callable[[Request], Principal]:
    """A FastAPI dependency: the caller's Principal (also kept on request.state for the audit log), or 401."""

    def dependency(request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            request.state.auth_failure = "no bearer token"
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "a bearer token is required",
                                headers={"WWW-Authenticate": "Bearer"})
        try:
            principal = verify_token(policy_of(request), token)
        except AuthError as error:
            request.state.auth_failure = str(error)
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(error),
                                headers={"WWW-Authenticate": "Bearer"}) from None
        request.state.principal = principal
        return principal

    return dependency


def runtime_policy(request: Request) -> TokenPolicy:
    runtime = request.app.state.runtime
    if getattr(runtime, "token_policy", None) is None:
        runtime.token_policy = TokenPolicy.of(runtime.settings)
    return runtime.token_policy


caller = authenticated(runtime_policy)


def require(*roles: Role) -> Callable[..., Principal]:
    """A FastAPI dependency that admits only the given roles (403 otherwise)."""

    def dependency(principal: Principal = Depends(caller)) -> Principal:
        if principal.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs a {' or '.join(roles)} token")
        return principal

    return dependency
