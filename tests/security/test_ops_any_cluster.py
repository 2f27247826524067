"""`mednet firms add` / `revoke` on a cluster given only by its address and admin credentials (options, or a
client properties file) and an issuer key file of its own: no local stack data directory is read."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import KafkaConnectionError
from typer.testing import CliRunner

from kafka_clients import produce_one
from mednet_cli import kafka_acls
from mednet_cli.main import app as cli
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.auth import Role, TokenPolicy, verify_token
from mednet_shared.platform.kafka_security import KafkaSecurity

ENV = {"COLUMNS": "1000", "MEDNET_DATA_DIR": "", "KAFKA_BOOTSTRAP_SERVERS": "", "KAFKA_SECURITY_PROTOCOL": ""}


def mednet(*arguments: str) -> str:
    result = CliRunner().invoke(cli, list(arguments), env=ENV)
    assert result.exit_code == 0, result.output
    return result.output


def setting(output: str, name: str) -> str:
    return next(line.split("│")[2].strip() for line in output.splitlines() if f"│ {name} " in line)


async def test_a_firm_is_onboarded_and_revoked_with_only_the_clusters_address_and_admin(secure, tmp_path):
    keys = tmp_path / "issuer" / "keys.json"
    await asyncio.to_thread(mednet, "issuer", "init", "--issuer-keys", str(keys))
    admin = ["--bootstrap-servers", secure.bootstrap, "--security-protocol", "SASL_PLAINTEXT",
             "--username", "admin", "--password", kafka_acls.credentials(secure.stack.data_dir)["admin"]]
    firm_id = f"delta-{secure.firm_a.firm_id.split('-')[1]}"
    shown = await asyncio.to_thread(mednet, "firms", "add", firm_id, *admin, "--issuer-keys", str(keys),
                                    "--replication", "1")
    delta = KafkaSecurity(setting(shown, "security.protocol"), setting(shown, "sasl.mechanism"),
                          setting(shown, "sasl.username"), setting(shown, "sasl.password"))
    assert setting(shown, "bootstrap.servers") == secure.bootstrap
    verifier = TokenPolicy(jwks_url=(tmp_path / "issuer" / "jwks.json").as_uri())
    principal = verify_token(verifier, setting(shown, "HTTP bearer token"))
    assert (principal.role, principal.firm_id) == (Role.FIRM, firm_id)
    await produce_one(secure.bootstrap, delta, Topics.firm_inbound(firm_id))
    assert firm_id in await asyncio.to_thread(mednet, "firms", "list", "--issuer-keys", str(keys))
    assert firm_id not in (secure.stack.data_dir / "firms.json").read_text()

    properties = tmp_path / "admin.properties"
    properties.write_text(f"bootstrap.servers={secure.bootstrap}\nsecurity.protocol=SASL_PLAINTEXT\n"
                          "sasl.mechanism=SCRAM-SHA-512\nsasl.jaas.config=org.apache.kafka.common.security.scram."
                          f'ScramLoginModule required username="admin" password="{admin[-1]}";\n')
    revoked = await asyncio.to_thread(mednet, "firms", "revoke", firm_id, "--yes", "--command-config",
                                      str(properties), "--issuer-keys", str(keys))
    assert f"{firm_id} revoked" in revoked and "user-deleted" in revoked
    with pytest.raises(KafkaConnectionError):
        await produce_one(secure.bootstrap, delta, Topics.firm_inbound(firm_id))
    assert f"firm.{firm_id}." not in (tmp_path / "issuer" / "jwks.json").read_text()
