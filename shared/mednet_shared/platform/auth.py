"""Bearer JWTs (PyJWT): who is calling, as firm, mediator or operator, and for which firm or mediator.

A service only verifies, in exactly one of two modes, and refuses to start with neither or both:
- JWKS (deployments and the local stack): ES256 or RS256 tokens, verified against the public keys at
  MEDNET_JWT_JWKS_URL (https://, or file:// for a local issuer; http:// only on loopback), fetched again at least
  every MEDNET_JWT_JWKS_REFRESH_SECONDS (at most 60) and on an unknown kid (at most once per few seconds).
  The issuer alone holds the private keys. A firm's tokens are signed with that firm's own key (kid
  `firm.<firm_id>.<n>`); removing that key from the JWKS revokes them all.
- An HS256 key set (MEDNET_JWT_KEYS, kid -> secret; for tests): new tokens are signed with MEDNET_JWT_ACTIVE_KID.
Every token names its key in `kid`; iss, aud, exp, iat, sub and role are required; mediator and operator tokens
live at most an hour (exp - iat), firm tokens at most 30 days.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from urllib.parse import unquote, urlparse

import jwt
from fastapi import Depends, HTTPException, Request, status

from ..contracts.values import utc_now
from .keyset import KeySet

ISSUER = "mednet"
AUDIENCE = "mednet-api"
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "sub", "role"]
ASYMMETRIC = ("ES256", "RS256")
MAX_REFRESH_SECONDS = 60
UNKNOWN_KID_COOLDOWN_SECONDS = 5.0
FIRM_KID_PREFIX = "firm."
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Role(StrEnum):
    FIRM = "firm"
    MEDIATOR = "mediator"
    OPERATOR = "operator"


MAX_LIFETIME = {Role.FIRM: timedelta(days=30), Role.MEDIATOR: timedelta(hours=1), Role.OPERATOR: timedelta(hours=1)}


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    firm_id: str | None = None
    mediator_id: str | None = None


class AuthError(ValueError):
    pass


def firm_kid(firm_id: str, serial: int) -> str:
    return f"{FIRM_KID_PREFIX}{firm_id}.{serial}"


def firm_of_kid(kid: str) -> str | None:
    """The firm a firm-scoped kid (`firm.<firm_id>.<n>`) belongs to; "" for a malformed one (it verifies nothing);
    None for any other kid."""
    if not kid.startswith(FIRM_KID_PREFIX):
        return None
    firm, _, serial = kid[len(FIRM_KID_PREFIX):].rpartition(".")
    return firm if firm and serial.isdigit() else ""


class FileJWKClient(jwt.PyJWKClient):
    """PyJWKClient's caching, refresh and cooldown for a JWKS in a local file (a local issuer's)."""

    def __init__(self, uri: str, **options) -> None:
        super().__init__("https://localhost/unused", **options)
        self.uri, self.path = uri, Path(unquote(urlparse(uri).path))

    def fetch_data(self) -> dict:
        try:
            return self._as_jwk_set_payload(json.loads(self.path.read_text()))
        except (OSError, ValueError) as error:
            raise jwt.PyJWKClientConnectionError(f"cannot read {self.path}: {error}") from None


@dataclass(frozen=True)
class TokenPolicy:
    """How tokens are verified (a JWKS or an HS256 key set, never both), and the issuer and audience they name."""

    keys: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    active_kid: str = ""
    issuer: str = ISSUER
    audience: str = AUDIENCE
    jwks_url: str | None = None
    jwks_refresh_seconds: float = MAX_REFRESH_SECONDS
    minimum_secret_length: int = field(default=32, repr=False)
    _jwks: jwt.PyJWKClient | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.keys and not self.jwks_url:
            raise ValueError("no JWT verification keys: set MEDNET_JWT_JWKS_URL (the issuer's JWKS: https:// or "
                             "file://) or, for tests only, an HS256 key set in MEDNET_JWT_KEYS with "
                             "MEDNET_JWT_ACTIVE_KID")
        if self.keys and self.jwks_url:
            raise ValueError("MEDNET_JWT_KEYS and MEDNET_JWT_JWKS_URL are both set: configure exactly one "
                             "(a JWKS for deployments, an HS256 key set only for tests)")
        if self.jwks_url:
            self._check_jwks_url(self.jwks_url)
            if not 0 < self.jwks_refresh_seconds <= MAX_REFRESH_SECONDS:
                raise ValueError(f"MEDNET_JWT_JWKS_REFRESH_SECONDS must be in (0, {MAX_REFRESH_SECONDS}]: "
                                 f"{self.jwks_refresh_seconds}")
            kind = FileJWKClient if self.jwks_url.startswith("file:") else jwt.PyJWKClient
            client = kind(self.jwks_url, cache_keys=False, cache_jwk_set=True, lifespan=self.jwks_refresh_seconds,
                          timeout=5, cooldown_duration=min(UNKNOWN_KID_COOLDOWN_SECONDS, self.jwks_refresh_seconds))
            object.__setattr__(self, "_jwks", client)
            return
        if self.active_kid not in self.keys:
            raise ValueError(f"MEDNET_JWT_ACTIVE_KID {self.active_kid!r} is not in the key set {sorted(self.keys)}")
        short = [kid for kid, secret in self.keys.items() if len(secret) < self.minimum_secret_length]
        if short:
            raise ValueError(f"JWT secrets must be at least {self.minimum_secret_length} characters: {short}")

    @staticmethod
    def _check_jwks_url(url: str) -> None:
        parsed = urlparse(url)
        if parsed.scheme == "https" and parsed.hostname:
            return
        if parsed.scheme == "file" and parsed.path.startswith("/"):
            return
        if parsed.scheme == "http" and parsed.hostname in LOOPBACK:
            return
        raise ValueError(f"MEDNET_JWT_JWKS_URL must be https:// (http:// only on loopback) or file:///<path>: {url!r}")

    @classmethod
    def parse(cls, keys_json: str = "", active_kid: str = "", issuer: str = ISSUER, audience: str = AUDIENCE,
              jwks_url: str = "", jwks_refresh_seconds: float = MAX_REFRESH_SECONDS, secret: str = "") -> TokenPolicy:
        """From the configuration's text. The single secret (MEDNET_JWT_SECRET) is retired: it is an error."""
        if secret:
            raise ValueError("MEDNET_JWT_SECRET is no longer supported: verify through MEDNET_JWT_JWKS_URL, or (tests "
                             "only) set an HS256 key set in MEDNET_JWT_KEYS with MEDNET_JWT_ACTIVE_KID")
        keys = KeySet.secrets(keys_json, active_kid, "MEDNET_JWT_KEYS") if keys_json else None
        return cls(dict(keys.keys) if keys else {}, keys.active_id if keys else "", issuer, audience,
                   jwks_url or None, jwks_refresh_seconds)

    @classmethod
    def of(cls, settings) -> TokenPolicy:
        return cls.parse(settings.jwt_keys, settings.jwt_active_kid, settings.jwt_issuer, settings.jwt_audience,
                         settings.jwt_jwks_url, settings.jwt_jwks_refresh_seconds, settings.jwt_secret)

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> TokenPolicy:
        return cls.parse(environment.get("MEDNET_JWT_KEYS", ""), environment.get("MEDNET_JWT_ACTIVE_KID", ""),
                         environment.get("MEDNET_JWT_ISSUER", ISSUER), environment.get("MEDNET_JWT_AUDIENCE", AUDIENCE),
                         environment.get("MEDNET_JWT_JWKS_URL", ""),
                         float(environment.get("MEDNET_JWT_JWKS_REFRESH_SECONDS", MAX_REFRESH_SECONDS)),
                         environment.get("MEDNET_JWT_SECRET", ""))


def token_claims(role: Role, *, issuer: str = ISSUER, audience: str = AUDIENCE, firm_id: str | None = None,
                 mediator_id: str | None = None, subject: str | None = None,
                 ttl: timedelta | None = None) -> dict:
    """The claims of a new token; its lifetime defaults to, and may not exceed, the role's maximum."""
    role = Role(role)
    ttl = MAX_LIFETIME[role] if ttl is None else ttl
    if not timedelta(0) < ttl <= MAX_LIFETIME[role]:
        raise ValueError(f"a {role} token lives at most {MAX_LIFETIME[role]}, not {ttl}")
    now = utc_now().replace(microsecond=0)
    claims = {"iss": issuer, "aud": audience, "iat": now, "exp": now + ttl, "role": str(role),
              "sub": subject or firm_id or mediator_id or str(role)}
    if firm_id:
        claims["firm_id"] = firm_id
    if mediator_id:
        claims["mediator_id"] = mediator_id
    return claims


def issue_token(policy: TokenPolicy, role: Role, *, firm_id: str | None = None, mediator_id: str | None = None,
                subject: str | None = None, ttl: timedelta | None = None) -> str:
    """An HS256 token signed with the key set's active key (tests; JWKS deployments sign at their issuer)."""
    if not policy.keys:
        raise ValueError("this policy verifies through a JWKS and holds no signing key; tokens come from the issuer")
    claims = token_claims(role, issuer=policy.issuer, audience=policy.audience, firm_id=firm_id,
                          mediator_id=mediator_id, subject=subject, ttl=ttl)
    return jwt.encode(claims, policy.keys[policy.active_kid], algorithm="HS256", headers={"kid": policy.active_kid})


def verification_key(policy: TokenPolicy, token: str) -> tuple[object, str, str]:
    """The key, algorithm and kid a token must be verified with, from the policy's mode alone."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise AuthError(f"invalid token: {error}") from None
    algorithm, kid = header.get("alg"), header.get("kid")
    if not kid or not isinstance(kid, str):
        raise AuthError("the token has no 'kid' header")
    if policy.keys:
        if algorithm != "HS256":
            raise AuthError(f"algorithm {algorithm!r} is not accepted (this service verifies HS256 only)")
        if kid not in policy.keys:
            raise AuthError(f"unknown key id {kid!r}")
        return policy.keys[kid], algorithm, kid
    if algorithm not in ASYMMETRIC:
        raise AuthError(f"algorithm {algorithm!r} is not accepted (this service verifies {' or '.join(ASYMMETRIC)})")
    try:
        signing_key = policy._jwks.get_signing_key(kid)
    except jwt.PyJWKClientConnectionError as error:
        raise AuthError(f"the issuer's keys cannot be fetched ({error})") from None
    except jwt.PyJWTError as error:
        raise AuthError(f"unknown key id {kid!r} ({error})") from None
    if signing_key.algorithm_name != algorithm:
        raise AuthError(f"key {kid!r} is for {signing_key.algorithm_name}, not {algorithm!r}")
    return signing_key.key, algorithm, kid


def verify_token(policy: TokenPolicy, token: str) -> Principal:
    key, algorithm, kid = verification_key(policy, token)
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
    lifetime = float(claims["exp"]) - float(claims["iat"])
    if lifetime > MAX_LIFETIME[role].total_seconds():
        raise AuthError(f"a {role} token may live at most {int(MAX_LIFETIME[role].total_seconds())} s; "
                        f"this one lives {int(lifetime)} s")
    firm = firm_of_kid(kid)
    if firm is not None and (role is not Role.FIRM or principal.firm_id != firm):
        raise AuthError(f"key {kid!r} signs only firm tokens of its own firm")
    if firm is None and role is Role.FIRM and policy.jwks_url:
        raise AuthError(f"a firm token must be signed with its firm's own key, not {kid!r}")
    return principal


def authenticated(policy_of: Callable[[Request], TokenPolicy]) -> Callable[[Request], Principal]:
    """A FastAPI dependency: the caller's Principal (also kept on request.state for the audit log), or 401."""

    def dependency(request: Request) -> Principal:
        verified = getattr(request.state, "principal", None)
        if verified is not None:
            return verified  # the token check in front of the app verified this request's token already
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
caller.roles, caller.hidden = frozenset(Role), False


def require(*roles: Role, hidden: bool = False) -> Callable[..., Principal]:
    """A FastAPI dependency that admits only the given roles: 403 for any other, or 404 if `hidden` (a route that
    tells no other role whether what it names exists). Its `roles` and `hidden` are what the OpenAPI document
    states for the route."""

    def dependency(principal: Principal = Depends(caller)) -> Principal:
        if principal.role not in roles:
            if hidden:
                raise HTTPException(status.HTTP_404_NOT_FOUND, "nothing of yours is here")
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs a {' or '.join(roles)} token")
        return principal

    dependency.roles, dependency.hidden = frozenset(roles), hidden
    return dependency
