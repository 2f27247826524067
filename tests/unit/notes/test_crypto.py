import base64
import traceback

import pytest

from mednet_notes.crypto import NoteSealer, SealError, generate_key

KEY = bytes(range(32))
MARKER = b"MARKER-settlement-authority-up-to-85k-7f3a"
CALL = {"case_id": "case-1", "call_id": "case-1:call-1"}


def sealer(key: bytes = KEY, key_id: str = "k1") -> NoteSealer:
    return NoteSealer(key, key_id)


def test_a_sealed_note_opens_to_its_plaintext():
    sealed = sealer().seal(MARKER, **CALL)
    assert sealed["key_id"] == "k1"
    assert sealer().open(sealed, **CALL) == MARKER


@pytest.mark.parametrize("elsewhere", [
    {"case_id": "case-2", "call_id": "case-1:call-1"},
    {"case_id": "case-1", "call_id": "case-1:call-2"},
])
def test_a_note_does_not_open_on_another_case_or_call(elsewhere):
    sealed = sealer().seal(MARKER, **CALL)
    with pytest.raises(SealError) as error:
        sealer().open(sealed, **elsewhere)
    assert MARKER.decode() not in str(error.value)


@pytest.mark.parametrize("field", ["ciphertext", "nonce"])
def test_an_altered_note_does_not_open(field):
    sealed = sealer().seal(MARKER, **CALL)
    altered = bytearray(sealed[field])
    altered[0] ^= 0x01
    with pytest.raises(SealError):
        sealer().open({**sealed, field: bytes(altered)}, **CALL)


def test_a_note_does_not_open_with_another_key_of_the_same_id():
    sealed = sealer().seal(MARKER, **CALL)
    with pytest.raises(SealError):
        sealer(bytes(reversed(KEY))).open(sealed, **CALL)


def test_a_note_sealed_under_another_key_id_is_refused_by_name():
    sealed = sealer(key_id="k2").seal(MARKER, **CALL)
    with pytest.raises(SealError, match="k2"):
        sealer().open(sealed, **CALL)


def test_a_truncated_nonce_is_refused():
    sealed = sealer().seal(MARKER, **CALL)
    with pytest.raises(SealError, match="12-byte nonce"):
        sealer().open({**sealed, "nonce": sealed["nonce"][:8]}, **CALL)


def test_two_seals_of_the_same_note_use_different_nonces_and_ciphertexts():
    first, second = sealer().seal(MARKER, **CALL), sealer().seal(MARKER, **CALL)
    assert len(first["nonce"]) == 12
    assert first["nonce"] != second["nonce"]
    assert first["ciphertext"] != second["ciphertext"]


def test_the_plaintext_appears_nowhere_in_the_sealed_note():
    sealed = sealer().seal(MARKER, **CALL)
    stored = sealed["nonce"] + sealed["ciphertext"]
    assert MARKER not in stored and MARKER[:12] not in stored
    assert MARKER.decode() not in repr(sealed)


def test_a_sealed_note_survives_storage_as_other_byte_types():
    sealed = sealer().seal(MARKER, **CALL)
    stored = {**sealed, "nonce": bytearray(sealed["nonce"]), "ciphertext": memoryview(sealed["ciphertext"])}
    assert sealer().open(stored, **CALL) == MARKER


def test_ids_that_could_blur_the_case_call_boundary_are_refused():
    with pytest.raises(ValueError, match="may not contain"):
        sealer().seal(MARKER, case_id="case|1", call_id="call-1")


SECRET_31 = b"SECRET-KEY-MATERIAL-0123456789!"


def everything_shown(error: BaseException) -> str:
    return "".join(traceback.format_exception(error)) + repr(error)


@pytest.mark.parametrize("key", [SECRET_31, SECRET_31 + b"XY", SECRET_31.decode()])
def test_a_key_of_the_wrong_length_or_type_is_refused_without_showing_it(key):
    with pytest.raises(ValueError, match="32 bytes") as error:
        NoteSealer(key)
    assert "SECRET" not in everything_shown(error.value)


@pytest.mark.parametrize("text", [
    base64.b64encode(SECRET_31).decode(),
    base64.b64encode(b"SECRET" * 6).decode(),
    "SECRET-KEY-not*base64!",
    "SECRET-KEY-é",
])
def test_a_bad_base64_key_is_refused_without_showing_it(text):
    with pytest.raises(ValueError, match="notes key") as error:
        NoteSealer.from_base64(text)
    assert "SECRET" not in everything_shown(error.value)


@pytest.mark.parametrize("encode", [base64.urlsafe_b64encode, base64.b64encode])
def test_a_key_opens_from_standard_or_url_safe_base64(encode):
    key = bytes([0xFB, 0xFF] * 16)
    text = encode(key).decode()
    from_text = NoteSealer.from_base64(text, key_id="k9")
    assert from_text.key_id == "k9"
    assert sealer(key, "k9").open(from_text.seal(MARKER, **CALL), **CALL) == MARKER


def test_a_key_without_padding_or_with_surrounding_whitespace_is_read():
    key = bytes([0xFB, 0xFF] * 16)
    text = "  " + base64.urlsafe_b64encode(key).decode().rstrip("=") + "\n"
    assert sealer(key).open(NoteSealer.from_base64(text).seal(MARKER, **CALL), **CALL) == MARKER


def test_generated_keys_are_fresh_url_safe_32_byte_keys():
    first, second = generate_key(), generate_key()
    assert first != second
    assert len(base64.urlsafe_b64decode(first)) == 32
    assert set(first) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")
    NoteSealer.from_base64(first)
