from pydantic_settings import SettingsConfigDict

from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MEDNET_INTAKE_", extra="ignore")

    service_name: str = "intake"
    http_port: int = 8101
    inbound_topic_pattern: str = Topics.FIRM_INBOUND_PATTERN
    sweep_seconds: float = 30.0  # MEDNET_INTAKE_SWEEP_SECONDS: how often overdue side confirmations are looked for
