"""A party's terms (what it wants, in the mediator's words, and its amounts) sealed under the case's data key, bound
to the case and the party, as one base64 token; and their digest keyed by that data key, so the same terms compare
equal without leaving a readable trace."""

from __future__ import annotations

import base64
import hashlib
import hmac

from pydantic import TypeAdapter

from mednet_shared.contracts.values import Objective

from .crypto import DATA_KEY_ID, NONCE_BYTES, NoteSealer
from .domain.case import ObjectiveTerms, terms_of

TERMS = TypeAdapter(list[ObjectiveTerms])


def seal_terms(data_key: bytes, case_id: str, party_id: str, objectives: list[Objective]) -> tuple[str, str]:
    """(token, digest); both empty when no objective has words or an amount."""
    terms = terms_of(objectives)
    if not any(t.wants or t.amount for t in terms):
        return "", ""
    plain = TERMS.dump_json(terms)
    box = NoteSealer(data_key, DATA_KEY_ID).seal(plain, case_id=case_id, call_id=terms_context(party_id))
    digest = hmac.new(data_key, b"mednet-terms|" + plain, hashlib.sha256).hexdigest()
    return base64.b64encode(box["nonce"] + box["ciphertext"]).decode(), digest


def open_terms(data_key: bytes, case_id: str, party_id: str, token: str) -> list[ObjectiveTerms]:
    raw = base64.b64decode(token)
    box = {"key_id": DATA_KEY_ID, "nonce": raw[:NONCE_BYTES], "ciphertext": raw[NONCE_BYTES:]}
    return TERMS.validate_json(NoteSealer(data_key, DATA_KEY_ID).open(box, case_id=case_id,
                                                                      call_id=terms_context(party_id)))


def terms_context(party_id: str) -> str:
    """What a party's sealed terms are bound to (with the case): another party's or case's do not open."""
    return f"terms~{party_id}"
