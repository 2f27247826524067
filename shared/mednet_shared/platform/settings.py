"""Configuration only from the environment: <SERVICE>_<FIELD>, falling back to the network-wide names."""

from __future__ import annotations

import os

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .kafka_security import KafkaSecurity


def _common(name: str, default: str) -> str:
    return os.environ.get(name, default)


class ServiceSettings(BaseSettings):
    """Subclass per service with model_config = SettingsConfigDict(env_prefix="MEDNET_<SERVICE>_")."""

    model_config = SettingsConfigDict(env_prefix="MEDNET_", extra="ignore")

    service_name: str = "mednet"
    kafka_bootstrap_servers: str = Field(default_factory=lambda: _common("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    mongodb_url: str = Field(default_factory=lambda: _common("MONGODB_URL", "mongodb://127.0.0.1:27017"))
    mongodb_database: str = ""
    consumer_group_id: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    log_level: str = Field(default_factory=lambda: _common("MEDNET_LOG_LEVEL", "INFO"))
    json_logs: bool = Field(default_factory=lambda: _common("MEDNET_JSON_LOGS", "true").lower() in ("1", "true"))
    outbox_sweep_seconds: float = 2.0
    handler_max_attempts: int = Field(default=5, ge=1)
    retry_backoff_seconds: float = Field(default=0.2, ge=0)
    retry_backoff_max_seconds: float = Field(default=10.0, ge=0)
    topic_partitions: int = Field(default=3, ge=1)
    topic_replication: int = Field(default_factory=lambda: int(_common("MEDNET_TOPIC_REPLICATION", "1")), ge=1)
    ready_timeout_seconds: float = 2.0
    shutdown_deadline_seconds: float = Field(default=9.0, gt=0)
    http_max_body_bytes: int = Field(default=256 * 1024, ge=0, description="body limit of routes without their own")
    jwt_secret: str = Field(default_factory=lambda: _common("MEDNET_JWT_SECRET", ""), repr=False,
                            description="retired: an error when set")
    jwt_keys: str = Field(default_factory=lambda: _common("MEDNET_JWT_KEYS", ""), repr=False)
    jwt_active_kid: str = Field(default_factory=lambda: _common("MEDNET_JWT_ACTIVE_KID", ""))
    jwt_issuer: str = Field(default_factory=lambda: _common("MEDNET_JWT_ISSUER", "mednet"))
    jwt_audience: str = Field(default_factory=lambda: _common("MEDNET_JWT_AUDIENCE", "mednet-api"))
    jwt_jwks_url: str = Field(default_factory=lambda: _common("MEDNET_JWT_JWKS_URL", ""))
    jwt_jwks_refresh_seconds: float = Field(
        default_factory=lambda: _common("MEDNET_JWT_JWKS_REFRESH_SECONDS", "60"), gt=0, le=60)
    kafka_security_protocol: str = Field(default_factory=lambda: _common("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT"))
    kafka_sasl_mechanism: str = Field(default_factory=lambda: _common("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"))
    kafka_sasl_username: str = Field(default_factory=lambda: _common("KAFKA_SASL_USERNAME", ""))
    kafka_sasl_password: SecretStr = Field(default_factory=lambda: SecretStr(_common("KAFKA_SASL_PASSWORD", "")))
    kafka_ssl_cafile: str = Field(default_factory=lambda: _common("KAFKA_SSL_CAFILE", ""))

    @model_validator(mode="after")
    def _jwt_verification_is_configured(self):
        from .auth import TokenPolicy

        TokenPolicy.of(self)
        return self

    @classmethod
    def load(cls):
        """The settings from the environment; invalid ones end the process with one line that says why."""
        try:
            return cls()
        except ValidationError as error:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) + ': ' if e['loc'] else ''}"
                                 f"{e['msg'].removeprefix('Value error, ')}" for e in error.errors())
            raise SystemExit(f"mednet-{cls.model_fields['service_name'].default}: invalid settings: {problems}") \
                from None

    @property
    def kafka_security(self) -> KafkaSecurity:
        return KafkaSecurity(self.kafka_security_protocol, self.kafka_sasl_mechanism, self.kafka_sasl_username,
                             self.kafka_sasl_password.get_secret_value(), self.kafka_ssl_cafile)

    @property
    def database(self) -> str:
        return self.mongodb_database or f"mednet_{self.service_name}"

    @property
    def consumer_group(self) -> str:
        return self.consumer_group_id or f"mednet-{self.service_name}"
