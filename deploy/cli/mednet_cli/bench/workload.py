"""What the benchmark submits: cases of two and four parties, each with its own addresses so every invitation
names its case, spread over mediators a few cases each."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mednet_shared.contracts.envelope import CloudEvent

WEEK = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ZONES = ("Europe/London", "America/New_York", "Asia/Kolkata", "UTC")
CASES_PER_MEDIATOR = 4


def hours(start: str, end: str, days=WEEK) -> list[dict]:
    return [{"day": day, "start": start, "end": end} for day in days]


@dataclass(frozen=True)
class BenchCase:
    reference: str
    parties: int
    mediator_id: str

    @property
    def invitations(self) -> int:
        """One per party, one per party's attorney, one for the mediator per call."""
        return 3 * self.parties

    @property
    def addresses(self) -> set[str]:
        return {address for n in range(self.parties) for address in (self.party_email(n), self.attorney_email(n))}

    def party_email(self, n: int) -> str:
        return f"p{n + 1}.{self.reference}@parties.example.org"

    def attorney_email(self, n: int) -> str:
        return f"counsel-p{n + 1}.{self.reference}@firm-{'abcd'[n]}.example.org"

    def submission(self, now: datetime) -> dict:
        start = (now + timedelta(days=21)).replace(hour=14, minute=0, second=0, microsecond=0)
        roles = ["claimant", "respondent", "other", "other"][: self.parties]
        return {
            "external_ref": self.reference,
            "title": f"Benchmark dispute {self.reference}",
            "mediator": {"mediator_id": self.mediator_id, "name": "Bench Mediator",
                         "email": f"{self.mediator_id}@mediators.example.org", "time_zone": "Europe/Berlin",
                         "working_hours": hours("08:00", "18:00", WEEK[:5]), "buffer_minutes": 15},
            "session": {"start": start.isoformat(), "end": (start + timedelta(hours=6)).isoformat(),
                        "time_zone": "Europe/Berlin"},
            "parties": [self._party(n, role) for n, role in enumerate(roles)],
            "policy": {"call_minutes": 45, "minimum_notice_hours": 24, "preparation_lead_hours": 24},
        }

    def _party(self, n: int, role: str) -> dict:
        return {"party_id": f"p{n + 1}", "role": role,
                "contact": {"name": f"Party {n + 1}", "email": self.party_email(n)},
                "time_zone": ZONES[n % len(ZONES)], "availability": hours("08:00", "20:00"),
                "attorney": {"firm_id": f"firm-{'abcd'[n]}", "name": f"Counsel {n + 1}",
                             "email": self.attorney_email(n)}}

    def command(self, firm: str) -> CloudEvent:
        """SubmitCase as the firm sends it; its time is the moment of submission."""
        now = datetime.now(UTC)
        return CloudEvent(id=str(uuid.uuid4()), type="mednet.SubmitCase.v1", source=f"/firms/{firm}",
                          subject=self.reference, time=now, data=self.submission(now))


def cases(phase: str, count: int, mix: tuple[int, ...]) -> list[BenchCase]:
    mediators = max(1, count // CASES_PER_MEDIATOR)
    return [BenchCase(f"{phase}-{n:05d}", mix[n % len(mix)], f"med-{phase}-{n % mediators:04d}")
            for n in range(count)]


def parties_mix(text: str) -> tuple[int, ...]:
    """'2/4' -> (2, 4): cases alternate between two and four parties."""
    try:
        mix = tuple(int(part) for part in text.replace(",", "/").split("/") if part.strip())
    except ValueError:
        raise ValueError(f"--parties takes party counts separated by '/', like 2/4, not {text!r}") from None
    if not mix or any(n not in (2, 3, 4) for n in mix):
        raise ValueError(f"--parties takes counts of 2 to 4 parties, like 2/4, not {text!r}")
    return mix
