"""The token issuer: ES256 private keys in a key file (0600, section jwt_issuer, never given to a service), their
public halves published whole as a JWKS file, which the services fetch through MEDNET_JWT_JWKS_URL (https://...
where the operator serves that file, or file://... on one machine). One key signs mediator and operator tokens;
each firm has a key of its own (kid `firm.<firm_id>.<n>`), so removing it from the JWKS revokes every token of
that firm."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from mednet_shared.platform.auth import Role, TokenPolicy, firm_kid, token_claims

from ..files import read_json, write_private
from ..provision import StackError

SECTION = "jwt_issuer"
ALGORITHM = "ES256"


def new_key(kid: str) -> dict:
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()), as_dict=True)
    return {**jwk, "kid": kid, "alg": ALGORITHM, "use": "sig"}


def new_state() -> dict:
    return {"serial": 1, "staff": new_key("staff.1"), "firms": {}}


def public(jwk: dict) -> dict:
    key = jwt.algorithms.ECAlgorithm.from_jwk(jwk).public_key()
    return {**jwt.algorithms.ECAlgorithm.to_jwk(key, as_dict=True), "kid": jwk["kid"], "alg": ALGORITHM, "use": "sig"}


def publish(path: Path, state: dict) -> None:
    """The JWKS: the staff key and every firm's key that is not revoked, replaced whole (readers never see half)."""
    document = {"keys": [public(state["staff"]), *(public(jwk) for jwk in state["firms"].values())]}
    text = json.dumps(document, indent=2)
    if path.exists() and path.read_text() == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_text(text)
    partial.chmod(0o644)
    partial.replace(path)


class Issuer:
    """Issues tokens; adds, replaces and revokes firms' keys. The key file's other sections are kept as they are;
    a key file without an issuer section gets a new one."""

    def __init__(self, key_file: Path, jwks_file: Path) -> None:
        self.key_file, self.jwks_file = Path(key_file).resolve(), Path(jwks_file).resolve()
        self._state: dict | None = None

    @property
    def state(self) -> dict:
        if self._state is None:
            stored = read_json(self.key_file).get(SECTION)
            if stored is None:
                self._save(new_state())
            else:
                self._state = stored
        return self._state

    def _save(self, state: dict) -> None:
        values = read_json(self.key_file)
        values[SECTION] = state
        write_private(self.key_file, values)
        publish(self.jwks_file, state)
        self._state = state

    def publish(self) -> None:
        publish(self.jwks_file, self.state)

    def verifier(self) -> TokenPolicy:
        self.publish()
        return TokenPolicy(jwks_url=self.jwks_file.as_uri())

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
