from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from mednet_shared.platform.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MEDNET_NOTES_", extra="ignore")

    service_name: str = "notes"
    http_port: int = 8103
    encryption_key: SecretStr = Field(description="urlsafe base64 of 32 random bytes (AES-256-GCM); "
                                                  "make one with: python -c 'import mednet_notes.crypto as c; "
                                                  "print(c.generate_key())'")
