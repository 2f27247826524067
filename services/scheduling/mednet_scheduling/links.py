"""The signed one-click links of an offer's email: one per offered slot (choose it) and one to decline them all.

A link's token is a JWT (HS256, the key named by its kid, from MEDNET_SCHEDULING_LINK_KEYS) that binds the case, the
party, the offer and the slot (or "decline"), and expires with the offer. A token that is tampered with, signed by an
unknown key, expired, or for another purpose is refused; the domain then checks the offer is still the side's
current one and the slot one of its slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

import jwt

from mednet_shared.contracts.events import CallSlotsOffered
from mednet_shared.platform import side_link
from mednet_shared.platform.keyset import KeySet

from .domain import offers

AUDIENCE = "mednet-scheduling-offer-link"
DECLINE = "decline"


class LinkRefused(Exception):
    """The token is no valid link (the reason is safe to show: it names no data)."""


@dataclass(frozen=True)
class LinkClaims:
    case_id: str
    party_id: str
    offer_id: str
    slot_id: str
    """A slot id, or DECLINE."""


@dataclass(frozen=True)
class Links:
    keys: KeySet
    base_url: str
    console_url: str = ""
    """The console's address: each offer also carries the side's own page, <console_url>/side?token=..."""

    def token(self, message: CallSlotsOffered, slot_id: str) -> str:
        claims = {"aud": AUDIENCE, "case": message.case_id, "party": message.party_id, "offer": message.offer_id,
                  "slot": slot_id, "exp": int(message.expires_at.timestamp())}
        return jwt.encode(claims, self.keys.active, algorithm="HS256", headers={"kid": self.keys.active_id})

    def linked(self, message: CallSlotsOffered, session_end: datetime | None = None) -> CallSlotsOffered:
        base = self.base_url.rstrip("/")
        message = offers.linked(
            message, lambda offer_id, slot_id: f"{base}/v1/offers/choose?token={quote(self.token(message, slot_id))}",
            lambda offer_id: f"{base}/v1/offers/decline?token={quote(self.token(message, DECLINE))}")
        if not self.console_url:
            return message
        return message.model_copy(update={"side_url": self.side_url(message.case_id, message.party_id, session_end or (
            message.expires_at + timedelta(days=30)))})

    def side_url(self, case_id: str, party_id: str, session_end: datetime) -> str:
        """The side's own console pages, until a margin after the session ends (shared.platform.side_link)."""
        token = side_link.mint(self.keys, case_id, party_id, session_end)
        return f"{self.console_url.rstrip('/')}/side?token={quote(token)}"

    def side(self, token: str, now: datetime) -> side_link.SideClaims:
        """A side link's case and party (side_link.SideLinkRefused if it is none)."""
        return side_link.verify(self.keys, token, now)

    def verify(self, token: str, now: datetime) -> LinkClaims:
        """The link's claims, if signed by one of the keys and not expired at now (the scheduler's clock)."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self.keys.keys.get(kid) if isinstance(kid, str) else None
            if key is None:
                raise LinkRefused("the link is not valid (unknown key)")
            claims = jwt.decode(token, key, algorithms=["HS256"], audience=AUDIENCE,
                                options={"require": ["exp", "aud", "case", "party", "offer", "slot"],
                                         "verify_exp": False})
        except jwt.PyJWTError:
            raise LinkRefused("the link is not valid") from None
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= now.timestamp():
            raise LinkRefused("the link has expired (the offer's deadline passed)")
        values = [claims.get(name) for name in ("case", "party", "offer", "slot")]
        if not all(isinstance(value, str) and 0 < len(value) <= 128 for value in values):
            raise LinkRefused("the link is not valid")
        return LinkClaims(*values)
