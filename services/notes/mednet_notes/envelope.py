"""Envelope encryption of the notes: one random data key per case, wrapped by a master key.

A wrapped data key is AES-256-GCM of the 32 key bytes under the master key named by its id, with the
associated data b"mednet-notes-key|<case_id>" so a wrapped key moved to another case does not unwrap.
Deleting a case's wrapped key crypto-shreds that case's notes and no other's. The master keys come from
configuration as a key set (id -> base64 key); new data keys are wrapped with the active id, and a master
key stays in the set while data keys wrapped by it remain.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mednet_shared.platform.keyset import KeySet

from .crypto import NONCE_BYTES, SEPARATOR, NoteSealer, SealError


class KeyUnwrapError(SealError):
    """A wrapped data key could not be unwrapped (unknown master key, altered, or another case's)."""


class MasterKeys:
    def __init__(self, keys: KeySet) -> None:
        self.active_id = keys.active_id
        self._aeads = {kid: AESGCM(key) for kid, key in keys.keys.items()}
        self._legacy = {kid: NoteSealer(key, kid) for kid, key in keys.keys.items()}

    @classmethod
    def parse(cls, keys_json: str = "", active_id: str = "", single_key: str = "") -> MasterKeys:
        """A JSON key set {"m1": "<base64 of 32 bytes>"}, else the single key under id 'k1'."""
        if keys_json:
            return cls(KeySet.aes(keys_json, active_id, "MEDNET_NOTES_MASTER_KEYS"))
        if single_key:
            return cls(KeySet.aes(json.dumps({"k1": single_key}), "k1", "MEDNET_NOTES_ENCRYPTION_KEY"))
        raise ValueError("no notes master key: set MEDNET_NOTES_MASTER_KEYS (or MEDNET_NOTES_ENCRYPTION_KEY)")

    def legacy_sealer(self, key_id: str) -> NoteSealer | None:
        """Notes sealed before envelope encryption were sealed with the single key directly (id k1)."""
        return self._legacy.get(key_id)

    def new_data_key(self, case_id: str) -> tuple[bytes, dict[str, Any]]:
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(NONCE_BYTES)
        wrapped = self._aeads[self.active_id].encrypt(nonce, data_key, _wrapping_context(case_id))
        return data_key, {"master_key_id": self.active_id, "nonce": nonce, "wrapped_key": wrapped}

    def unwrap(self, wrapping: Mapping[str, Any], case_id: str) -> bytes:
        master_id = wrapping.get("master_key_id")
        if master_id not in self._aeads:
            raise KeyUnwrapError(f"the data key of case {case_id!r} was wrapped by unknown master key {master_id!r}")
        try:
            return self._aeads[master_id].decrypt(bytes(wrapping["nonce"]), bytes(wrapping["wrapped_key"]),
                                                  _wrapping_context(case_id))
        except (InvalidTag, KeyError, TypeError):
            raise KeyUnwrapError(f"the data key of case {case_id!r} does not unwrap: altered or another case's") \
                from None

    def rewrap(self, wrapping: Mapping[str, Any], case_id: str) -> dict[str, Any]:
        """The same data key wrapped by the active master key (for master key rotation)."""
        data_key = self.unwrap(wrapping, case_id)
        nonce = os.urandom(NONCE_BYTES)
        wrapped = self._aeads[self.active_id].encrypt(nonce, data_key, _wrapping_context(case_id))
        return {"master_key_id": self.active_id, "nonce": nonce, "wrapped_key": wrapped}


def _wrapping_context(case_id: str) -> bytes:
    if SEPARATOR in case_id:
        raise ValueError(f"case ids may not contain {SEPARATOR!r}")
    return SEPARATOR.join(("mednet-notes-key", case_id)).encode()
