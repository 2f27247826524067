"""Where a call happens: a mediator's conferencing profile, and the Place it gives one call.

Pure: the random values (an unguessable video room, a phone PIN) are drawn outside the domain and given to it as
`Secrets`, so the same inputs always give the same place. A call's place is made once, when it is first booked,
and kept across reschedules; no two calls of a calendar share a room.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from mednet_shared.contracts.values import Place, PlaceKind

ROOM = "{room}"
PHONE = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 ()./-]{3,30}[0-9]$")]
DRAWS_BEFORE_GIVING_UP = 8


@dataclass(frozen=True)
class Secrets:
    """Random values for one call's place: a URL-safe room token and a numeric PIN."""

    room: str
    pin: str


class PlaceUnavailable(ValueError):
    """No room could be drawn that no other call of the calendar uses (the draw is not random)."""


class Conferencing(BaseModel):
    """A mediator's conferencing profile: a video URL template with {room} (https only), a phone bridge (each call
    gets its own PIN) or a callback number ("The mediator will call you on <number>")."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
    kind: PlaceKind
    url_template: Annotated[str, StringConstraints(max_length=400)] | None = None
    phone: PHONE | None = None

    @model_validator(mode="after")
    def _complete(self) -> Conferencing:
        if self.kind is PlaceKind.VIDEO:
            template = self.url_template or ""
            if not re.fullmatch(r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s]*)?", template.replace(ROOM, "r")):
                raise ValueError("a video profile needs an https URL template")
            if template.count(ROOM) != 1 or ROOM in template.split("/", 3)[2]:
                raise ValueError("the URL template must contain {room} exactly once, after the host")
            if self.phone is not None:
                raise ValueError("a video profile has no phone number")
        else:
            if self.phone is None:
                raise ValueError(f"a {self.kind.value} profile needs a phone number")
            if self.url_template is not None:
                raise ValueError(f"a {self.kind.value} profile has no URL template")
        return self


def place_for(profile: Conferencing | None, secrets: Secrets) -> Place | None:
    """The place a call gets from the profile; None without a profile."""
    if profile is None:
        return None
    if profile.kind is PlaceKind.VIDEO:
        url = profile.url_template.replace(ROOM, secrets.room)
        return Place(kind=PlaceKind.VIDEO, url=url, text=f"Video call: {url}"[:200])
    if profile.kind is PlaceKind.PHONE:
        return Place(kind=PlaceKind.PHONE, phone=profile.phone, pin=secrets.pin,
                     text=f"Dial {profile.phone} and enter PIN {secrets.pin}")
    return Place(kind=PlaceKind.CALLBACK, phone=profile.phone, text=f"The mediator will call you on {profile.phone}")


def new_place(profile: Conferencing | None, draw: Callable[[], Secrets], taken: Iterable[Place | None]) -> Place | None:
    """A place no other call uses: a video room (or phone PIN) not among `taken`, drawing again on a collision."""
    if profile is None:
        return None
    used = {(p.url, p.pin) for p in taken if p is not None}
    for _ in range(DRAWS_BEFORE_GIVING_UP):
        candidate = place_for(profile, draw())
        if profile.kind is PlaceKind.CALLBACK or (candidate.url, candidate.pin) not in used:
            return candidate
    raise PlaceUnavailable("no unused room could be drawn for the call")

