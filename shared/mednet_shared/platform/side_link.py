"""A side's signed link (the console's side pages): one token for one party of one case, until its session is over.

HS256 with the link keys scheduling signs offer links with (the key named by its kid), audience distinct from the
offer links'; scheduling mints it, scheduling and notes verify it. Its claims name the case and the party only: a
side's link never reaches another side or another case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from .keyset import KeySet

AUDIENCE = "mednet-side-link"
MARGIN = timedelta(days=7)
"""How long after the session's end a side's link still opens (to read where its call was, its receipts)."""


class SideLinkRefused(Exception):
    """Not a valid side link; the reason is safe to show (it names no data)."""


@dataclass(frozen=True)
class SideClaims:
    case_id: str
    party_id: str
    expires: datetime


def mint(keys: KeySet, case_id: str, party_id: str, session_end: datetime) -> str:
    claims = {"aud": AUDIENCE, "case": case_id, "party": party_id, "exp": int((session_end + MARGIN).timestamp())}
    return jwt.encode(claims, keys.active, algorithm="HS256", headers={"kid": keys.active_id})


def verify(keys: KeySet, token: str, now: datetime) -> SideClaims:
    """The link's case and party, if one of the keys signed it for this audience and it has not expired at now."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        key = keys.keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise SideLinkRefused("the link is not valid")
        claims = jwt.decode(token, key, algorithms=["HS256"], audience=AUDIENCE,
                            options={"require": ["exp", "aud", "case", "party"], "verify_exp": False})
    except jwt.PyJWTError:
        raise SideLinkRefused("the link is not valid") from None
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= now.timestamp():
        raise SideLinkRefused("the link has expired")
    case_id, party_id = claims.get("case"), claims.get("party")
    if not all(isinstance(value, str) and 0 < len(value) <= 128 for value in (case_id, party_id)):
        raise SideLinkRefused("the link is not valid")
    return SideClaims(case_id, party_id, datetime.fromtimestamp(claims["exp"]).astimezone())
