"""The ACL plan: each firm's user names only its own topics and group prefix; services get no CREATE and no
firm topic unless a firm is added; a plaintext stack refuses firm provisioning with a clear error; the services'
rights are derived from their wiring and equal what each service's app really subscribes to."""

import pytest

from mednet_cli import firms, kafka_acls
from mednet_cli.fleet import local_secrets
from mednet_cli.ops import acls
from mednet_cli.ops.cluster import cluster_from
from mednet_cli.provision import StackError
from mednet_cli.stack import Stack
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.consumer import EventConsumer


def test_a_firms_user_may_write_its_inbound_read_its_outbound_and_use_its_group_prefix_only():
    own = [a for a in acls.firm_acls("acme") if a.user == "firm-acme"]
    assert {(a.resource, a.pattern, a.name, a.operation) for a in own} == {
        ("topic", "literal", "mednet.firm.acme.inbound", "write"),
        ("topic", "literal", "mednet.firm.acme.outbound", "read"),
        ("group", "prefixed", "mednet.firm.acme.", "read"),
    }


def test_firm_acls_never_reach_another_firm_whose_id_shares_a_prefix():
    names = {a.name for a in acls.firm_acls("acme")}
    assert not any(name.startswith("mednet.firm.acme-2") for name in names)
    assert all(name.startswith("mednet.firm.acme.") for name in names)


def test_services_get_no_create_right_and_only_their_own_groups():
    for service in acls.SERVICES:
        table = acls.service_acls(service)
        assert {a.operation for a in table} <= {"read", "write"}
        assert {a.user for a in table} == {f"mednet-{service}"}
        assert [a.name for a in table if a.resource == "group"] == [f"mednet-{service}"]
        assert [a.name for a in table if a.operation == "write" and not a.name.endswith(".dlq")] == [
            f"mednet.{service}.events"]
        assert not any("firm" in a.name for a in table)


def test_the_command_readers_read_and_notify_writes_a_firms_topics_only_once_the_firm_is_added():
    for_services = {(a.user, a.name, a.operation) for a in acls.firm_acls("acme") if a.user != "firm-acme"}
    assert for_services == {("mednet-intake", "mednet.firm.acme.inbound", "read"),
                            ("mednet-intake", "mednet.firm.acme.inbound.dlq", "write"),
                            ("mednet-scheduling", "mednet.firm.acme.inbound", "read"),
                            ("mednet-scheduling", "mednet.firm.acme.inbound.dlq", "write"),
                            ("mednet-notes", "mednet.firm.acme.inbound", "read"),
                            ("mednet-notes", "mednet.firm.acme.inbound.dlq", "write"),
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


def subscriptions(service: str, monkeypatch, tmp_path) -> list[dict]:
    """What mednet_<service>.app.build() really subscribes to (topics or pattern, group), nothing connected."""
    import importlib

    made = []
    monkeypatch.setattr(EventConsumer, "subscribe", lambda self, topics=(), handlers=None, group_id="", **options:
                        made.append({"topics": set(topics), "pattern": options.get("pattern"), "group": group_id}))
    for key, value in {**local_secrets(tmp_path), "MEDNET_JWT_KEYS": ""}.items():
        monkeypatch.setenv(key, value)
    importlib.import_module(f"mednet_{service}.app").build()
    return made


@pytest.mark.parametrize("service", acls.SERVICES)
def test_the_acl_table_equals_what_each_services_app_subscribes_to(service, monkeypatch, tmp_path):
    made = subscriptions(service, monkeypatch, tmp_path)
    assert made, f"{service} subscribes to nothing"
    table = acls.service_acls(service)
    reads = {a.name for a in table if a.resource == "topic" and a.operation == "read"}
    dead_letters = {a.name for a in table if a.resource == "topic" and a.name.endswith(".dlq")}
    subscribed = set().union(*(s["topics"] for s in made))
    assert reads == subscribed
    assert dead_letters == {Topics.dead_letter(topic) for topic in subscribed}
    patterns = {s["pattern"] for s in made if s["pattern"]}
    assert (service in acls.firm_command_readers()) == bool(patterns)
    assert patterns <= {Topics.FIRM_INBOUND_PATTERN}
    group = [a.name for a in table if a.resource == "group"]
    assert all(s["group"].startswith(group[0]) for s in made), (group, made)


def test_the_wiring_is_read_from_the_apps_not_copied(monkeypatch):
    import mednet_notes.app

    acls.wiring.cache_clear()
    monkeypatch.setattr(mednet_notes.app, "CONSUMES", [Topics.INTAKE])
    try:
        assert {a.name for a in acls.service_acls("notes") if a.operation == "read" and a.resource == "topic"} == {
            Topics.INTAKE}
    finally:
        acls.wiring.cache_clear()


def test_a_cluster_is_given_by_options_or_a_client_properties_file_and_never_guessed(tmp_path):
    properties = tmp_path / "admin.properties"
    properties.write_text("# the admin\nbootstrap.servers=kafka-1:9096\nsecurity.protocol=SASL_SSL\n"
                          "sasl.mechanism=SCRAM-SHA-512\nsasl.jaas.config=org.apache.kafka.common.security.scram."
                          'ScramLoginModule required username="admin" password="s3cret";\n'
                          "ssl.truststore.location=/etc/kafka/ca.pem\n")
    cluster = cluster_from(None, None, None, None, None, None, properties)
    assert (cluster.bootstrap, cluster.security.protocol, cluster.security.username, cluster.security.password,
            cluster.security.cafile) == ("kafka-1:9096", "SASL_SSL", "admin", "s3cret", "/etc/kafka/ca.pem")
    assert cluster_from("other:9092", None, None, "ops", "pw", None, properties).security.username == "ops"
    with pytest.raises(ValueError, match="no Kafka cluster given"):
        cluster_from(None, "SASL_SSL", None, "admin", "pw", None, None)
    with pytest.raises(ValueError, match="needs KAFKA_SASL_USERNAME"):
        cluster_from("kafka:9092", "SASL_SSL", None, None, None, None, None)
