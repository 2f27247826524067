"""A side's signed link: it opens for its own case and party until a week after the session, and no other token
opens it: an offer link (same keys, other audience), another key, a changed claim, an expired one."""

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from mednet_shared.platform import side_link
from mednet_shared.platform.keyset import KeySet

KEYS = KeySet.secrets('{"l1": "tests-only-side-link-key-0123456789abcdef"}', "l1", "TEST")
OTHER = KeySet.secrets('{"l1": "another-key-of-the-same-id-0123456789abcd"}', "l1", "TEST")
END = datetime(2027, 1, 25, 19, tzinfo=UTC)


def test_a_link_names_its_case_and_party_until_a_week_after_the_session():
    token = side_link.mint(KEYS, "case-1", "p1", END)
    claims = side_link.verify(KEYS, token, END + timedelta(days=6))
    assert (claims.case_id, claims.party_id) == ("case-1", "p1")
    with pytest.raises(side_link.SideLinkRefused, match="expired"):
        side_link.verify(KEYS, token, END + side_link.MARGIN)


@pytest.mark.parametrize("forge", [
    lambda t: jwt.encode({**jwt.decode(t, options={"verify_signature": False}), "aud": "mednet-scheduling-offer-link"},
                         KEYS.active, algorithm="HS256", headers={"kid": "l1"}),
    lambda t: side_link.mint(OTHER, "case-1", "p2", END),
    lambda t: jwt.encode({**jwt.decode(t, options={"verify_signature": False}), "party": "p2"}, "x" * 40,
                         algorithm="HS256", headers={"kid": "l1"}),
    lambda t: jwt.encode({**jwt.decode(t, options={"verify_signature": False})}, KEYS.active, algorithm="HS256",
                         headers={"kid": "l9"}),
    lambda t: t[:-4] + ("AAAA" if not t.endswith("AAAA") else "BBBB"),
    lambda t: "not a token",
], ids=["offer-audience", "other-key", "changed-party", "unknown-kid", "tampered", "garbage"])
def test_no_other_token_opens_it(forge):
    token = forge(side_link.mint(KEYS, "case-1", "p1", END))
    with pytest.raises(side_link.SideLinkRefused, match="not valid"):
        side_link.verify(KEYS, token, END - timedelta(days=1))


def test_an_offer_link_is_no_side_link_and_a_side_link_no_offer_link():
    from mednet_scheduling.links import AUDIENCE

    assert AUDIENCE != side_link.AUDIENCE
