from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.settings import ServiceSettings

from mednet_shared.platform.keyset import KeySet

from .envelope import MasterKeys


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MEDNET_NOTES_", extra="ignore")

    service_name: str = "notes"
    http_port: int = 8103
    master_keys: SecretStr = Field(
        default=SecretStr(""),
        description='master keys wrapping each case\'s data key: {"m1": "<urlsafe base64 of 32 random bytes>"}')
    master_key_id: str = Field(default="", description="the master key that wraps new data keys")
    encryption_key: SecretStr = Field(
        default=SecretStr(""),
        description="a single master key (id k1) when MEDNET_NOTES_MASTER_KEYS is not set: urlsafe base64 of 32 "
                    "random bytes; make one with: python -c 'import mednet_notes.crypto as c; print(c.generate_key())'")

    inbound_topic_pattern: str = Topics.FIRM_INBOUND_PATTERN
    max_document_bytes: int = Field(default=5 * 1024 * 1024, ge=1,
                                    description="The largest statement document accepted, in bytes")

    not_ready_days: int = Field(default=7, ge=1, description="mednet_notes_cases_not_ready counts cases not ready "
                                                             "for a session starting within this many days")
    readiness_sweep_seconds: float = Field(default=60.0, gt=0)
    link_keys: SecretStr = Field(default=SecretStr(""), description="scheduling's link keys (the same set): they "
                                                                    "verify a side's signed link for its statement "
                                                                    "and readiness")
    link_active_kid: str = ""

    def link_keyset(self) -> KeySet:
        """The side links' keys; the service does not start without them (no default key)."""
        text = self.link_keys.get_secret_value()
        if not text:
            raise ValueError('MEDNET_NOTES_LINK_KEYS is not set: a side\'s signed link is verified with scheduling\'s '
                             'link keys (the same JSON, e.g. {"l1": "..."}, and MEDNET_NOTES_LINK_ACTIVE_KID=l1)')
        return KeySet.secrets(text, self.link_active_kid, "MEDNET_NOTES_LINK_KEYS")

    def key_ring(self) -> MasterKeys:
        return MasterKeys.parse(self.master_keys.get_secret_value(), self.master_key_id,
                                self.encryption_key.get_secret_value())
