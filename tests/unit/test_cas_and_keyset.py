import json

import pytest

from mednet_shared.platform.cas import CONFLICTS, CasPolicy, Conflict, ConflictsExhausted, compare_and_set
from mednet_shared.platform.keyset import KeySet

FAST = CasPolicy(attempts=4, backoff_seconds=0, backoff_max_seconds=0)
AES = "bWVkbmV0LXRlc3Qta2V5LW9mLTMyLWJ5dGVzLWxvbiE="


async def test_a_lost_race_is_tried_again_and_counted():
    calls = []

    async def attempt():
        calls.append(1)
        if len(calls) < 3:
            raise Conflict()
        return "written"

    before = CONFLICTS.labels("unit", "case")._value.get()
    assert await compare_and_set(attempt, service="unit", what="case", key="c1", policy=FAST) == "written"
    assert len(calls) == 3 and CONFLICTS.labels("unit", "case")._value.get() == before + 2


async def test_running_out_of_retries_is_an_error_never_a_silent_give_up():
    async def attempt():
        raise Conflict()

    with pytest.raises(ConflictsExhausted, match="'c1' changed concurrently on each of 4 attempts"):
        await compare_and_set(attempt, service="unit", what="case", key="c1", policy=FAST)


async def test_other_errors_are_not_retried():
    calls = []

    async def attempt():
        calls.append(1)
        raise KeyError("x")

    with pytest.raises(KeyError):
        await compare_and_set(attempt, service="unit", what="case", key="c1", policy=FAST)
    assert len(calls) == 1


def test_an_aes_key_set_with_its_active_id():
    keys = KeySet.aes(json.dumps({"m1": AES, "m2": AES}), "m2", "MEDNET_X_KEYS")
    assert keys.active_id == "m2" and len(keys.active) == 32
    assert KeySet.aes(json.dumps({"m1": AES}), "", "MEDNET_X_KEYS").active_id == "m1"


@pytest.mark.parametrize("text, active, message", [
    ("", "", "is not JSON"), ("[1]", "", "JSON object"), ('{"m1": 5}', "", "JSON object"), ("{}", "", "is empty"),
    ('{"m1": "not base64!"}', "", "not base64"), ('{"m1": "c2hvcnQ="}', "", "5 bytes, not 32"),
    (json.dumps({"m1": AES}), "m9", "'m9' is not in MEDNET_X_KEYS"),
    (json.dumps({"m1": AES, "m2": AES}), "", "active key id ''"),
])
def test_a_bad_aes_key_set_names_the_variable_and_the_fault(text, active, message):
    with pytest.raises(ValueError, match=message) as error:
        KeySet.aes(text, active, "MEDNET_X_KEYS")
    assert "MEDNET_X_KEYS" in str(error.value)


def test_text_secrets_have_a_minimum_length():
    assert KeySet.secrets(json.dumps({"k1": "x" * 32}), "k1", "MEDNET_JWT_KEYS").active == b"x" * 32
    with pytest.raises(ValueError, match=r"MEDNET_JWT_KEYS: the secrets of \['k1'\] are shorter than 32"):
        KeySet.secrets(json.dumps({"k1": "short"}), "k1", "MEDNET_JWT_KEYS")
