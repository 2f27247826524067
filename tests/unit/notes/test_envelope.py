"""Per-case data keys wrapped by a master key: tampering, another case's key, unknown or rotated master keys."""

import base64
import json
import os

import pytest

from mednet_notes.crypto import NoteSealer, SealError
from mednet_notes.envelope import KeyUnwrapError, MasterKeys


def key_text() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


M1, M2 = key_text(), key_text()


def ring(active: str = "m1", **keys: str) -> MasterKeys:
    return MasterKeys.parse(json.dumps(keys or {"m1": M1}), active)


def test_a_wrapped_data_key_unwraps_to_the_same_key_and_never_holds_it_in_clear():
    data_key, wrapping = ring().new_data_key("case-1")
    assert len(data_key) == 32 and wrapping["master_key_id"] == "m1"
    assert data_key not in wrapping["wrapped_key"]
    assert ring().unwrap(wrapping, "case-1") == data_key


def test_each_case_gets_its_own_random_data_key():
    first, _ = ring().new_data_key("case-1")
    second, _ = ring().new_data_key("case-1")
    assert first != second


@pytest.mark.parametrize("field", ["wrapped_key", "nonce"])
def test_a_tampered_wrapped_key_does_not_unwrap(field):
    _, wrapping = ring().new_data_key("case-1")
    altered = bytearray(wrapping[field])
    altered[0] ^= 1
    with pytest.raises(KeyUnwrapError, match="altered or another case's"):
        ring().unwrap({**wrapping, field: bytes(altered)}, "case-1")


def test_a_wrapped_key_moved_to_another_case_does_not_unwrap():
    _, wrapping = ring().new_data_key("case-1")
    with pytest.raises(KeyUnwrapError):
        ring().unwrap(wrapping, "case-2")


def test_a_key_wrapped_by_an_unknown_master_key_is_named_in_the_error():
    _, wrapping = ring("m2", m2=M2).new_data_key("case-1")
    with pytest.raises(KeyUnwrapError, match="unknown master key 'm2'"):
        ring().unwrap(wrapping, "case-1")


def test_rotation_rewraps_with_the_active_master_key_and_the_old_one_can_then_be_dropped():
    data_key, old = ring().new_data_key("case-1")
    rotated = ring("m2", m1=M1, m2=M2)
    new = rotated.rewrap(old, "case-1")
    assert new["master_key_id"] == "m2"
    assert ring("m2", m2=M2).unwrap(new, "case-1") == data_key


def test_a_note_sealed_with_one_cases_data_key_fails_under_another_cases_key():
    key_1, _ = ring().new_data_key("case-1")
    key_2, _ = ring().new_data_key("case-2")
    sealed = NoteSealer(key_1, "case-data-key").seal(b"private", case_id="case-1", call_id="case-1:p1")
    with pytest.raises(SealError):
        NoteSealer(key_2, "case-data-key").open(sealed, case_id="case-1", call_id="case-1:p1")


@pytest.mark.parametrize("keys, active, problem", [
    ("", "", "no notes master key"),
    ("{not json", "m1", "not JSON"),
    ('["m1"]', "m1", "JSON object"),
    (json.dumps({"m1": M1}), "m9", "'m9' is not in MEDNET_NOTES_MASTER_KEYS"),
    (json.dumps({"m1": base64.b64encode(b"short").decode()}), "m1", "key 'm1' is 5 bytes, not 32"),
    (json.dumps({"m1": "***"}), "m1", "MEDNET_NOTES_MASTER_KEYS: key 'm1' is not base64"),
    (json.dumps({"m1": M1, "m2": M1}), "", "the active key id '' is not in"),
], ids=["none", "not-json", "not-object", "unknown-active", "short", "not-base64", "no-active"])
def test_bad_master_key_configuration_is_a_specific_error(keys, active, problem):
    with pytest.raises(ValueError, match=problem):
        MasterKeys.parse(keys, active)


def test_the_single_legacy_key_serves_as_master_key_k1():
    assert MasterKeys.parse(single_key=M1).active_id == "k1"
    with pytest.raises(ValueError, match="MEDNET_NOTES_ENCRYPTION_KEY: key 'k1' is 3 bytes, not 32"):
        MasterKeys.parse(single_key="abcd")
