from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.keyset import KeySet
from mednet_shared.platform.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MEDNET_SCHEDULING_", extra="ignore")

    service_name: str = "scheduling"
    http_port: int = 8102
    inbound_topic_pattern: str = Topics.FIRM_INBOUND_PATTERN
    link_keys: SecretStr = Field(
        default=SecretStr(""),
        description='keys signing the one-click links of offer emails (HS256): {"l1": "<at least 32 characters>"}')
    link_active_kid: str = Field(default="", description="the link key that signs new links")
    public_url: str = Field(default="", description="the base URL the links of offer emails point to, e.g. "
                                                    "https://scheduling.example.org")
    console_url: str = Field(default="", description="the console's address as sides reach it, e.g. "
                                                     "https://console.example.org: each offer email then links the "
                                                     "side's own pages; unset: no side pages")
    sweep_seconds: float = Field(default=30.0, gt=0, description="how often offers past their deadline are booked")

    def link_keyset(self) -> KeySet:
        """The links' key set; the service does not start without it (no default key)."""
        text = self.link_keys.get_secret_value()
        if not text:
            raise ValueError('MEDNET_SCHEDULING_LINK_KEYS is not set: the signed links of offers need a key set, '
                             'e.g. {"l1": "<at least 32 random characters>"} and MEDNET_SCHEDULING_LINK_ACTIVE_KID=l1')
        if not self.public_url.startswith(("https://", "http://")):
            raise ValueError("MEDNET_SCHEDULING_PUBLIC_URL is not set (or not an http(s) URL): the signed links of "
                             "offers need the public base URL of the scheduling API")
        return KeySet.secrets(text, self.link_active_kid, "MEDNET_SCHEDULING_LINK_KEYS")
    complete_before_start: bool = Field(
        default=False, description="Local stack only (mednet up, demo, chaos): the played mediator may complete a "
                                   "call before it starts; never set in a deployment")
