"""How a client authenticates to Kafka: PLAINTEXT (local default), SASL_PLAINTEXT or SASL_SSL with SCRAM."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any

PROTOCOLS = ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256")


@dataclass(frozen=True)
class KafkaSecurity:
    protocol: str = "PLAINTEXT"
    mechanism: str = "SCRAM-SHA-512"
    username: str = ""
    password: str = field(default="", repr=False)
    cafile: str = ""

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"KAFKA_SECURITY_PROTOCOL must be one of {', '.join(PROTOCOLS)}, not {self.protocol!r}")
        if self.uses_sasl and self.mechanism not in MECHANISMS:
            raise ValueError(f"KAFKA_SASL_MECHANISM must be one of {', '.join(MECHANISMS)}, not {self.mechanism!r}")
        if self.uses_sasl and not (self.username and self.password):
            raise ValueError(f"{self.protocol} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL")

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's producer, consumer and admin client (and FastStream's broker)."""
        if not self.uses_sasl:
            return {}
        options: dict[str, Any] = {"security_protocol": self.protocol, "sasl_mechanism": self.mechanism,
                                   "sasl_plain_username": self.username, "sasl_plain_password": self.password}
        if self.protocol == "SASL_SSL":
            options["ssl_context"] = ssl.create_default_context(cafile=self.cafile or None)
        return options


PLAINTEXT = KafkaSecurity()
