"""AES-256-GCM sealing of the mediator's private observations.

Each seal uses a fresh random 12-byte nonce. The associated data b"mednet-notes|<case_id>|<call_id>" binds a
sealed note to its case and call, so a note copied onto another call does not open. Errors never carry the key
or any plaintext.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
DATA_KEY_ID = "case-data-key"
NONCE_BYTES = 12
SEPARATOR = "|"


class SealError(Exception):
    """A sealed note could not be opened."""


class NoteSealer:
    def __init__(self, key: bytes, key_id: str = "k1") -> None:
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            length = len(key) if isinstance(key, bytes) else type(key).__name__
            raise ValueError(f"a notes key must be {KEY_BYTES} bytes, got {length}")
        if not key_id:
            raise ValueError("a notes key needs a key_id")
        self.key_id = key_id
        self._aead = AESGCM(key)

    @classmethod
    def from_base64(cls, text: str, key_id: str = "k1") -> NoteSealer:
        return cls(decoded_key(text), key_id)

    def seal(self, plaintext: bytes, *, case_id: str, call_id: str) -> dict[str, Any]:
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._aead.encrypt(nonce, plaintext, associated_data(case_id, call_id))
        return {"key_id": self.key_id, "nonce": nonce, "ciphertext": ciphertext}

    def open(self, sealed: dict[str, Any], *, case_id: str, call_id: str) -> bytes:
        nonce, ciphertext = self._parts_of(sealed)
        try:
            return self._aead.decrypt(nonce, ciphertext, associated_data(case_id, call_id))
        except InvalidTag:
            raise SealError(
                f"the note of call {call_id!r} does not open: wrong key, altered data, or another case or call"
            ) from None

    def _parts_of(self, sealed: dict[str, Any]) -> tuple[bytes, bytes]:
        if sealed.get("key_id") != self.key_id:
            raise SealError(f"the note was sealed with key {sealed.get('key_id')!r}, not {self.key_id!r}")
        nonce, ciphertext = sealed.get("nonce"), sealed.get("ciphertext")
        if not isinstance(nonce, bytes | bytearray | memoryview) or len(nonce) != NONCE_BYTES:
            raise SealError(f"a sealed note needs a {NONCE_BYTES}-byte nonce")
        if not isinstance(ciphertext, bytes | bytearray | memoryview):
            raise SealError("a sealed note needs its ciphertext as bytes")
        return bytes(nonce), bytes(ciphertext)


def associated_data(case_id: str, call_id: str) -> bytes:
    if SEPARATOR in case_id or SEPARATOR in call_id:
        raise ValueError(f"case and call ids may not contain {SEPARATOR!r}")
    return SEPARATOR.join(("mednet-notes", case_id, call_id)).encode()


def decoded_key(text: str) -> bytes:
    standard = "".join(text.split()).replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the notes key is not valid base64 (standard or URL-safe)") from None


def generate_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()
