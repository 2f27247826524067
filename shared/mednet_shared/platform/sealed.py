"""Small secrets a service must keep and use again (webhook signing secrets), sealed at rest.

AES-256-GCM under a key set from configuration (read by keyset.KeySet.aes: JSON id -> urlsafe base64 of 32 bytes,
plus the active id), with associated data naming what the secret belongs to, so a sealed secret copied elsewhere
does not open.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .keyset import KeySet

KEY_BYTES, NONCE_BYTES = 32, 12


class SealedSecretError(ValueError):
    pass


def aeads_of(keys: Mapping[str, bytes], active_id: str, what: str) -> dict[str, AESGCM]:
    """An AES-256-GCM cipher per key id, once the set is checked: the active id is in it, every key 32 bytes."""
    if active_id not in keys:
        raise ValueError(f"the active {what} {active_id!r} is not in the key set {sorted(keys)}")
    wrong = [kid for kid, key in keys.items() if len(key) != KEY_BYTES]
    if wrong:
        raise ValueError(f"{what}s must be {KEY_BYTES} bytes: {wrong}")
    return {kid: AESGCM(key) for kid, key in keys.items()}


class SecretBox:
    def __init__(self, keys: KeySet) -> None:
        self._aeads = aeads_of(keys.keys, keys.active_id, "secret key")
        self.active_id = keys.active_id

    @classmethod
    def parse(cls, keys_json: str, active_id: str = "",
              variable: str = "MEDNET_NOTIFY_SECRET_KEYS") -> SecretBox | None:
        """None when no key set is configured; the key set is read by the platform's KeySet."""
        if not keys_json:
            return None
        try:
            keys = KeySet.aes(keys_json, active_id, variable)
        except ValueError as error:
            raise ValueError(f'{error} (a secret key set is JSON {{"s1": "<urlsafe base64 of 32 bytes>"}})') from None
        return cls(keys)

    def seal(self, secret: str, context: str) -> dict[str, Any]:
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._aeads[self.active_id].encrypt(nonce, secret.encode(), context.encode())
        return {"key_id": self.active_id, "nonce": nonce, "ciphertext": ciphertext}

    def open(self, sealed: Mapping[str, Any], context: str) -> str:
        aead = self._aeads.get(sealed.get("key_id"))
        if aead is None:
            raise SealedSecretError(f"the secret of {context} was sealed with unknown key {sealed.get('key_id')!r}")
        try:
            return aead.decrypt(bytes(sealed["nonce"]), bytes(sealed["ciphertext"]), context.encode()).decode()
        except (InvalidTag, KeyError, TypeError):
            raise SealedSecretError(f"the secret of {context} does not open: altered or another's") from None

