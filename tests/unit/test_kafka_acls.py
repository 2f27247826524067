"""The ACL plan: each firm's user names only its own topics and group prefix; services get no CREATE and no
firm topic unless a firm is added; a plaintext stack refuses firm provisioning with a clear error."""

import pytest

from mednet_cli import firms, kafka_acls
from mednet_cli.provision import StackError
from mednet_cli.stack import Stack


def test_a_firms_user_may_write_its_inbound_read_its_outbound_and_use_its_group_prefix_only():
    own = [a for a in kafka_acls.firm_acls("acme") if a.user == "firm-acme"]
    assert {(a.resource, a.pattern, a.name, a.operation) for a in own} == {
        ("topic", "literal", "mednet.firm.acme.inbound", "write"),
        ("topic", "literal", "mednet.firm.acme.outbound", "read"),
        ("group", "prefixed", "mednet.firm.acme.", "read"),
    }


def test_firm_acls_never_reach_another_firm_whose_id_shares_a_prefix():
    names = {a.name for a in kafka_acls.firm_acls("acme")}
    assert not any(name.startswith("mednet.firm.acme-2") for name in names)
    assert all(name.startswith("mednet.firm.acme.") for name in names)


def test_services_get_no_create_right_and_only_their_own_groups():
    for service in kafka_acls.SERVICES:
        acls = kafka_acls.service_acls(service)
        assert {a.operation for a in acls} <= {"read", "write"}
        assert {a.user for a in acls} == {f"mednet-{service}"}
        assert [a.name for a in acls if a.resource == "group"] == [f"mednet-{service}"]
        assert [a.name for a in acls if a.operation == "write" and not a.name.endswith(".dlq")] == [
            f"mednet.{service}.events"]
        assert not any("firm" in a.name for a in acls)


def test_intake_and_scheduling_read_and_notify_writes_a_firms_topics_only_once_the_firm_is_added():
    for_services = {(a.user, a.name, a.operation) for a in kafka_acls.firm_acls("acme") if a.user != "firm-acme"}
    assert for_services == {("mednet-intake", "mednet.firm.acme.inbound", "read"),
                            ("mednet-intake", "mednet.firm.acme.inbound.dlq", "write"),
                            ("mednet-scheduling", "mednet.firm.acme.inbound", "read"),
                            ("mednet-scheduling", "mednet.firm.acme.inbound.dlq", "write"),
                            ("mednet-notify", "mednet.firm.acme.outbound", "write")}


def test_a_plaintext_stack_refuses_to_provision_a_firm(tmp_path):
    with pytest.raises(StackError, match="runs without security"):
        firms.add(Stack(tmp_path, security="plaintext"), "acme")


def test_a_bad_firm_id_is_refused_before_anything_is_made(tmp_path):
    with pytest.raises(ValueError, match="lowercase letters"):
        firms.add(Stack(tmp_path, security="scram"), "Acme Law")
    assert not (tmp_path / "firms.json").exists()


def test_the_services_plan_is_applied_again_only_when_it_changes(tmp_path, monkeypatch):
    stack = Stack(tmp_path, security="scram")
    applied = []
    monkeypatch.setattr(kafka_acls, "run_admin", lambda _, operations: applied.append(operations) or [])
    assert kafka_acls.needs_provisioning(stack)
    kafka_acls.provision_services(stack)
    assert not kafka_acls.needs_provisioning(stack)
    assert any(line.startswith("user-upsert\tmednet-notify\t") for line in applied[0])
    monkeypatch.setattr(kafka_acls, "SERVICES", kafka_acls.SERVICES[:3])
    assert kafka_acls.needs_provisioning(stack)
    assert oct((tmp_path / "kafka-credentials.json").stat().st_mode)[-3:] == "600"


@pytest.mark.parametrize("service", kafka_acls.SERVICES)
def test_the_acl_plan_follows_each_services_wiring(service):
    import importlib

    wiring = importlib.import_module(f"mednet_{service}.app")
    settings = importlib.import_module(f"mednet_{service}.config").Settings
    assert set(kafka_acls.CONSUMES[service]) == set(getattr(wiring, "CONSUMES", []))
    assert wiring.PUBLISHES == [f"mednet.{service}.events"]
    reads_firm_commands = "inbound_topic_pattern" in settings.model_fields
    assert (service in kafka_acls.FIRM_COMMAND_READERS) == reads_firm_commands
