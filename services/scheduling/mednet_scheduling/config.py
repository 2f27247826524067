from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MEDNET_SCHEDULING_", extra="ignore")

    service_name: str = "scheduling"
    http_port: int = 8102
    inbound_topic_pattern: str = Topics.FIRM_INBOUND_PATTERN
    complete_before_start: bool = Field(
        default=False, description="Local stack only (mednet up, demo, chaos): the played mediator may complete a "
                                   "call before it starts; never set in a deployment")
