from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from mednet_shared.platform.sealed import SecretBox
from mednet_shared.platform.settings import ServiceSettings

from .readiness import parse_days


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MEDNET_NOTIFY_", extra="ignore")

    service_name: str = "notify"
    http_port: int = 8104
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_sender: str = "mednet <no-reply@mednet.example.org>"
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        default="none", description="starttls (submission, 587) or tls (implicit, 465) for any real relay; "
                                    "the certificate is always verified")
    smtp_ca_file: str = Field(default="", description="CA bundle to verify the SMTP server by; unset: the system's")
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_allow_plaintext_auth: bool = Field(
        default=False, description="local only: allow SMTP AUTH without TLS (the password crosses in clear)")
    poll_seconds: float = 5.0
    dispatch_concurrency: int = Field(default=16, ge=1)
    delivery_max_attempts: int = 8
    delivery_backoff_seconds: float = 1.0
    delivery_backoff_max_seconds: float = 300.0
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, description="one deadline for a whole delivery")
    webhook_max_response_bytes: int = Field(default=64 * 1024, ge=0)
    webhook_max_endpoints_per_firm: int = Field(default=5, ge=1)
    webhook_concurrency: int = Field(default=16, ge=1, description="webhook workers, apart from email's")
    webhook_concurrency_per_firm: int = Field(default=2, ge=1)
    webhook_allow_loopback_http: bool = Field(
        default=False, description="local stack and tests only: accept http:// and https:// to loopback")
    webhook_disable_after: int = 10
    inbound_smtp_host: str = Field(default="", description="where the iTIP reply listener binds; unset: off")
    inbound_smtp_port: int | None = Field(default=None, ge=0, le=65535,
                                          description="its port (0: any free one); unset: off")
    brief_url: str = "http://127.0.0.1:8103/v1/cases/{case_id}/brief"
    secret_keys: SecretStr = Field(
        default=SecretStr(""),
        description='seal webhook signing secrets at rest: {"s1": "<urlsafe base64 of 32 random bytes>"}; '
                    "unset keeps them in clear")
    secret_key_id: str = ""
    readiness_reminder_days: str = Field(
        default="7,2", description="Days before the session when each side is reminded of its outstanding "
                                   "readiness items, comma-separated whole days")
    readiness_sweep_seconds: float = Field(default=60.0, gt=0, description="How often due readiness reminders "
                                                                            "are looked for")

    @field_validator("readiness_reminder_days")
    @classmethod
    def _reminder_days(cls, value: str) -> str:
        try:
            parse_days(value)
        except ValueError as error:
            raise ValueError(f"MEDNET_NOTIFY_READINESS_REMINDER_DAYS: {error}") from None
        return value

    @property
    def readiness_days(self) -> tuple[int, ...]:
        return parse_days(self.readiness_reminder_days)

    @model_validator(mode="after")
    def _smtp_login_only_over_tls(self) -> "Settings":
        if bool(self.smtp_username) != bool(self.smtp_password.get_secret_value()):
            raise ValueError("MEDNET_NOTIFY_SMTP_USERNAME and MEDNET_NOTIFY_SMTP_PASSWORD come together")
        if self.smtp_username and self.smtp_security == "none" and not self.smtp_allow_plaintext_auth:
            raise ValueError("SMTP login is configured without TLS: the password would cross the network in "
                             "clear; set MEDNET_NOTIFY_SMTP_SECURITY=starttls (or tls), or, for a local server "
                             "only, MEDNET_NOTIFY_SMTP_ALLOW_PLAINTEXT_AUTH=true")
        return self

    def secret_box(self) -> SecretBox | None:
        return SecretBox.parse(self.secret_keys.get_secret_value(), self.secret_key_id)
