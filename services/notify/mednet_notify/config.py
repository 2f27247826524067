from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from mednet_shared.platform.sealed import SecretBox
from mednet_shared.platform.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MEDNET_NOTIFY_", extra="ignore")

    service_name: str = "notify"
    http_port: int = 8104
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_sender: str = "mednet <no-reply@mednet.example.org>"
    poll_seconds: float = 5.0
    dispatch_concurrency: int = Field(default=16, ge=1)
    delivery_max_attempts: int = 8
    delivery_backoff_seconds: float = 1.0
    delivery_backoff_max_seconds: float = 300.0
    webhook_timeout_seconds: float = 10.0
    webhook_disable_after: int = 10
    brief_url: str = "http://127.0.0.1:8103/v1/cases/{case_id}/brief"
    secret_keys: SecretStr = Field(
        default=SecretStr(""),
        description='seal webhook signing secrets at rest: {"s1": "<urlsafe base64 of 32 random bytes>"}; '
                    "unset keeps them in clear")
    secret_key_id: str = ""

    def secret_box(self) -> SecretBox | None:
        return SecretBox.parse(self.secret_keys.get_secret_value(), self.secret_key_id)
