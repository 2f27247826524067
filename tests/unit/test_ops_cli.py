"""The operator commands take a cluster and an issuer key file and refuse what is missing or wrong before
anything is made; without them they use the local stack the dev layer describes."""

import json

import pytest
from typer.testing import CliRunner

from mednet_cli.main import app as cli
from mednet_cli.ops import commands

ENV = {"COLUMNS": "300", "KAFKA_BOOTSTRAP_SERVERS": "", "MEDNET_DATA_DIR": ""}


def mednet(*arguments: str):
    return CliRunner().invoke(cli, list(arguments), env=ENV)


def test_issuer_init_makes_private_keys_once_and_publishes_only_public_ones(tmp_path):
    keys = tmp_path / "issuer" / "keys.json"
    made = mednet("issuer", "init", "--issuer-keys", str(keys))
    assert made.exit_code == 0, made.output
    assert keys.stat().st_mode & 0o077 == 0
    published = json.loads((tmp_path / "issuer" / "jwks.json").read_text())["keys"]
    assert [key["kid"] for key in published] == ["staff.1"] and "d" not in published[0]
    again = mednet("issuer", "init", "--issuer-keys", str(keys))
    assert again.exit_code == 1 and "already holds issuer keys" in again.output


def test_a_missing_issuer_key_file_is_an_error_not_a_new_issuer(tmp_path):
    missing = tmp_path / "typo.json"
    shown = mednet("notes", "rewrap", "--issuer-keys", str(missing), "--notes-url", "http://127.0.0.1:9")
    assert shown.exit_code == 1 and "holds no token issuer keys" in shown.output and "issuer init" in shown.output
    assert not missing.exists()


def test_firms_add_on_a_cluster_without_security_makes_nothing(tmp_path):
    keys = tmp_path / "keys.json"
    mednet("issuer", "init", "--issuer-keys", str(keys))
    before = keys.read_text()
    shown = mednet("firms", "add", "acme", "--bootstrap-servers", "127.0.0.1:9", "--issuer-keys", str(keys))
    assert shown.exit_code == 1 and "the cluster at 127.0.0.1:9 runs without security" in shown.output
    assert keys.read_text() == before and not (tmp_path / "firms.json").exists()


def test_a_sasl_cluster_without_the_admins_credentials_is_refused():
    shown = mednet("dlq", "list", "--bootstrap-servers", "kafka:9093", "--security-protocol", "SASL_SSL")
    assert shown.exit_code == 1 and "needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD" in shown.output


def test_without_a_cluster_or_a_local_stack_the_error_says_what_to_give(monkeypatch):
    monkeypatch.setattr(commands, "LOCAL", None)
    with pytest.raises(ValueError, match="pass --bootstrap-servers"):
        commands.Target().cluster()
    with pytest.raises(ValueError, match="--issuer-keys"):
        commands.Target().issuer()


def test_with_no_option_the_local_stacks_data_dir_fills_everything_in(tmp_path):
    target = commands.Target(data_dir=tmp_path)
    assert target.cluster().bootstrap == "127.0.0.1:9092" and not target.cluster().secure
    assert target.issuer().key_file == (tmp_path / "secrets.json").resolve()
    assert target.registry_file() == tmp_path.resolve() / "firms.json"
