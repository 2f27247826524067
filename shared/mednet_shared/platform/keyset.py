"""One key set from configuration, for every secret a service keys by id: JSON {"<id>": "<key>"} plus the active id.

Rotation is the same everywhere: add an id, make it active, drop the old one once nothing it protects is left.
`KeySet.aes` reads urlsafe base64 of 32 bytes (AES-256-GCM keys: notes master keys, notify's secret keys);
`KeySet.secrets` reads text secrets of a minimum length (HS256 keys). Every error names the variable.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

AES_KEY_BYTES = 32


@dataclass(frozen=True)
class KeySet:
    keys: Mapping[str, bytes] = field(repr=False)
    active_id: str
    variable: str

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError(f"{self.variable} is empty: it needs at least one key")
        if self.active_id not in self.keys:
            raise ValueError(f"the active key id {self.active_id!r} is not in {self.variable} {sorted(self.keys)}")

    @property
    def active(self) -> bytes:
        return self.keys[self.active_id]

    @classmethod
    def aes(cls, text: str, active_id: str, variable: str) -> KeySet:
        keys = {kid: _aes_key(value, kid, variable) for kid, value in _entries(text, variable).items()}
        return cls(keys, _active(keys, active_id), variable)

    @classmethod
    def secrets(cls, text: str, active_id: str, variable: str, minimum_length: int = 32) -> KeySet:
        entries = _entries(text, variable)
        short = sorted(kid for kid, value in entries.items() if len(value) < minimum_length)
        if short:
            raise ValueError(f"{variable}: the secrets of {short} are shorter than {minimum_length} characters")
        keys = {kid: value.encode() for kid, value in entries.items()}
        return cls(keys, _active(keys, active_id), variable)


def _entries(text: str, variable: str) -> dict[str, str]:
    example = f'{variable} must be a JSON object of key id -> key, e.g. {{"k1": "..."}}'
    try:
        entries = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{variable} is not JSON ({error.msg}); {example}") from None
    if not isinstance(entries, dict) or not all(isinstance(k, str) and k and isinstance(v, str)
                                                for k, v in entries.items()):
        raise ValueError(example)
    return entries


def _active(keys: Mapping[str, bytes], active_id: str) -> str:
    return active_id or (next(iter(keys)) if len(keys) == 1 else "")


def _aes_key(text: str, kid: str, variable: str) -> bytes:
    standard = text.strip().replace("-", "+").replace("_", "/")
    try:
        key = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{variable}: key {kid!r} is not base64") from None
    if len(key) != AES_KEY_BYTES:
        raise ValueError(f"{variable}: key {kid!r} is {len(key)} bytes, not {AES_KEY_BYTES}")
    return key
