"""The local stack's token issuer: ES256 private keys in the stack's secrets file (0600, never given to a
service), their public halves published as `<data dir>/jwks.json`, which the services read through
MEDNET_JWT_JWKS_URL=file://... One key signs mediator and operator tokens; each firm has a key of its own
(kid `firm.<firm_id>.<n>`), so removing it from the JWKS revokes every token of that firm."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from mednet_shared.platform.auth import Role, TokenPolicy, firm_kid, token_claims

from .provision import StackError

SECTION = "jwt_issuer"
ALGORITHM = "ES256"


def jwks_file(data_dir: Path) -> Path:
    return Path(data_dir).resolve() / "jwks.json"


def jwks_url(data_dir: Path) -> str:
    return jwks_file(data_dir).as_uri()


def new_key(kid: str) -> dict:
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()), as_dict=True)
    return {**jwk, "kid": kid, "alg": ALGORITHM, "use": "sig"}


def new_state() -> dict:
    return {"serial": 1, "staff": new_key("staff.1"), "firms": {}}


def public(jwk: dict) -> dict:
    key = jwt.algorithms.ECAlgorithm.from_jwk(jwk).public_key()
    return {**jwt.algorithms.ECAlgorithm.to_jwk(key, as_dict=True), "kid": jwk["kid"], "alg": ALGORITHM, "use": "sig"}


def publish(data_dir: Path, state: dict) -> None:
    """jwks.json: the staff key and every firm's key that is not revoked, replaced whole (readers never see half)."""
    document = {"keys": [public(state["staff"]), *(public(jwk) for jwk in state["firms"].values())]}
    path = jwks_file(data_dir)
    text = json.dumps(document, indent=2)
    if path.exists() and path.read_text() == text:
        return
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_text(text)
    partial.chmod(0o644)
    partial.replace(path)


class Issuer:
    """Issues the local stack's tokens; adds, replaces and revokes firms' keys."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self._state: dict | None = None

    @property
    def state(self) -> dict:
        if self._state is None:
            from .fleet import local_secrets, secrets_file

            local_secrets(self.data_dir)
            self._state = json.loads(secrets_file(self.data_dir).read_text())[SECTION]
        return self._state

    def _save(self, state: dict) -> None:
        from .fleet import secrets_file, write_private

        values = json.loads(secrets_file(self.data_dir).read_text())
        values[SECTION] = state
        write_private(secrets_file(self.data_dir), values)
        publish(self.data_dir, state)
        self._state = state

    def verifier(self) -> TokenPolicy:
        self.state
        return TokenPolicy(jwks_url=jwks_url(self.data_dir))

    def has_firm(self, firm_id: str) -> bool:
        return firm_id in self.state["firms"]

    def add_firm(self, firm_id: str) -> str:
        """A new key for the firm; a key it had before is dropped (its tokens fail within a refresh period)."""
        state = {**self.state, "firms": dict(self.state["firms"]), "serial": self.state["serial"] + 1}
        state["firms"][firm_id] = new_key(firm_kid(firm_id, state["serial"]))
        self._save(state)
        return state["firms"][firm_id]["kid"]

    def ensure_firm(self, firm_id: str) -> bool:
        if self.has_firm(firm_id):
            return False
        self.add_firm(firm_id)
        return True

    def revoke_firm(self, firm_id: str) -> bool:
        """Drop the firm's key from the JWKS: every token it signed fails once the services refresh (<= 60 s)."""
        self._state = None
        if not self.has_firm(firm_id):
            return False
        state = {**self.state, "firms": {f: k for f, k in self.state["firms"].items() if f != firm_id}}
        self._save(state)
        return True

    def issue(self, role: Role, *, firm_id: str | None = None, mediator_id: str | None = None,
              subject: str | None = None, ttl: timedelta | None = None) -> str:
        role = Role(role)
        if role is Role.FIRM:
            if not firm_id or not self.has_firm(firm_id):
                raise StackError(f"firm {firm_id!r} has no signing key here: run `mednet firms add {firm_id}`")
            jwk = self.state["firms"][firm_id]
        else:
            jwk = self.state["staff"]
        claims = token_claims(role, firm_id=firm_id, mediator_id=mediator_id, subject=subject, ttl=ttl)
        return jwt.encode(claims, jwt.algorithms.ECAlgorithm.from_jwk(jwk), ALGORITHM, headers={"kid": jwk["kid"]})
