"""What the benchmark submits: cases of two and four parties, each with its own addresses so every invitation
names its case, spread over mediators a few cases each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from mednet_shared.contracts.envelope import CloudEvent

from .. import samples

CASES_PER_MEDIATOR = 4
COUNSEL = "counsel"  # the attorneys' address domain: counsel.example.org, whichever firm submits


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
        return samples.party_email(f"p{n + 1}", self.reference)

    def attorney_email(self, n: int) -> str:
        return samples.counsel_email(f"p{n + 1}", COUNSEL, self.reference)

    def submission(self, now: datetime, firm: str) -> dict:
        """The bench firm represents every party itself: every side is confirmed at once, no acceptance to wait
        for."""
        document = samples.submission(self.reference, parties=self.parties, mediator_id=self.mediator_id, now=now,
                                      represented_by=firm, tag=self.reference,
                                      title=f"Benchmark dispute {self.reference}", mediator_name="Bench Mediator")
        for n, party in enumerate(document["parties"]):
            party["attorney"]["email"] = self.attorney_email(n)
        return document

    def command(self, firm: str) -> CloudEvent:
        """SubmitCase as the firm sends it; its time is the moment of submission."""
        return samples.submit_case(firm, self.submission(datetime.now(UTC), firm))


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
