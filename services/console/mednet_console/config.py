from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from mednet_shared.platform.settings import ServiceSettings

SERVICES = ("intake", "scheduling", "notes", "notify")


class Settings(ServiceSettings):
    """The console holds no business data: the other services' addresses, how users sign in, its sessions."""

    model_config = SettingsConfigDict(env_prefix="MEDNET_CONSOLE_", extra="ignore")

    service_name: str = "console"
    http_port: int = 8105
    public_url: str = Field(default="", description="The console's own address as users reach it (https:// outside "
                                                    "the local stack); its cookies are Secure when it is https")
    intake_url: str = ""
    scheduling_url: str = ""
    notes_url: str = ""
    notify_url: str = ""
    service_timeout_seconds: float = Field(default=5.0, gt=0)
    session_hours: float = Field(default=8.0, gt=0, le=24)
    login_links: bool = Field(default=False, description="Accept one-time sign-in links (local stack: `mednet "
                                                         "console login`) minted by the token issuer")
    oidc_discovery_url: str = Field(default="", description="OpenID Connect issuer's .well-known/openid-configuration")
    oidc_client_id: str = ""
    oidc_client_secret: SecretStr = SecretStr("")
    oidc_scope: str = "openid profile"

    @model_validator(mode="after")
    def _fails_closed(self):
        if not self.public_url.startswith(("https://", "http://")):
            raise ValueError("MEDNET_CONSOLE_PUBLIC_URL is required: the console's address as users reach it")
        missing = [f"MEDNET_CONSOLE_{name.upper()}_URL" for name in SERVICES if not getattr(self, f"{name}_url")]
        if missing:
            raise ValueError(f"the services' addresses are required: {', '.join(missing)}")
        oidc = {"MEDNET_CONSOLE_OIDC_DISCOVERY_URL": self.oidc_discovery_url,
                "MEDNET_CONSOLE_OIDC_CLIENT_ID": self.oidc_client_id,
                "MEDNET_CONSOLE_OIDC_CLIENT_SECRET": self.oidc_client_secret.get_secret_value()}
        given = [name for name, value in oidc.items() if value]
        if given and len(given) < len(oidc):
            raise ValueError(f"OpenID Connect is half configured: set {', '.join(sorted(set(oidc) - set(given)))} "
                             f"too, or none of {', '.join(oidc)}")
        if not given and not self.login_links:
            raise ValueError("no way to sign in: configure OpenID Connect (MEDNET_CONSOLE_OIDC_DISCOVERY_URL, "
                             "_CLIENT_ID, _CLIENT_SECRET) or, on the local stack, MEDNET_CONSOLE_LOGIN_LINKS=true")
        return self

    @property
    def oidc(self) -> bool:
        return bool(self.oidc_discovery_url)

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    def service_url(self, name: str) -> str:
        return getattr(self, f"{name}_url").rstrip("/")
