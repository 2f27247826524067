"""On the secured cluster a firm's principal writes only its inbound topic, reads only its outbound topic with
its own groups, and nothing else; wrong passwords and plaintext connections are refused. Each denial is
asserted by the error's type."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)

from typer.testing import CliRunner

from kafka_clients import join_group, produce_one, read_assigned
from mednet_cli import firms
from mednet_cli.main import app as cli
from mednet_shared.platform.auth import Role, verify_token
from mednet_cli.stack import kafka_answers
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.kafka_security import KafkaSecurity

INTERNAL_TOPICS = [name for topic in Topics.service_topics() for name in (topic, Topics.dead_letter(topic))]
pytestmark = pytest.mark.timeout(600)


async def test_a_firm_writes_its_inbound_topic_and_reads_its_outbound_topic_with_its_own_group(secure):
    a = secure.firm_a
    await produce_one(secure.bootstrap, a.kafka_security, Topics.firm_inbound(a.firm_id), b'{"hello": 1}')
    await produce_one(secure.bootstrap, secure.stack.admin_security, Topics.firm_outbound(a.firm_id), b"for-a")
    records = await read_assigned(secure.bootstrap, a.kafka_security, Topics.firm_outbound(a.firm_id),
                                  group=f"mednet.firm.{a.firm_id}.reader")
    assert [r.value for r in records] == [b"for-a"]
    joined = await join_group(secure.bootstrap, a.kafka_security, Topics.firm_outbound(a.firm_id),
                              f"mednet.firm.{a.firm_id}.members")
    assert [r.value for r in joined] == [b"for-a"]


async def test_a_firm_cannot_produce_to_another_firms_inbound_topic(secure):
    with pytest.raises(TopicAuthorizationFailedError):
        await produce_one(secure.bootstrap, secure.firm_a.kafka_security, Topics.firm_inbound(secure.firm_b.firm_id))


async def test_a_firm_cannot_produce_to_its_own_outbound_topic_or_any_internal_topic(secure):
    a = secure.firm_a
    for topic in [Topics.firm_outbound(a.firm_id), *INTERNAL_TOPICS]:
        with pytest.raises(TopicAuthorizationFailedError):
            await produce_one(secure.bootstrap, a.kafka_security, topic)


async def test_a_firm_cannot_read_another_firms_outbound_topic(secure):
    a, b = secure.firm_a, secure.firm_b
    await produce_one(secure.bootstrap, secure.stack.admin_security, Topics.firm_outbound(b.firm_id), b"for-b")
    with pytest.raises(TopicAuthorizationFailedError):
        await read_assigned(secure.bootstrap, a.kafka_security, Topics.firm_outbound(b.firm_id))
    with pytest.raises(TopicAuthorizationFailedError):
        await read_assigned(secure.bootstrap, a.kafka_security, Topics.firm_inbound(b.firm_id))


async def test_a_firm_cannot_join_another_firms_group_or_a_service_group(secure):
    a, b = secure.firm_a, secure.firm_b
    for group in (f"mednet.firm.{b.firm_id}.members", "mednet-intake", f"mednet.firm.{a.firm_id}"):
        with pytest.raises(GroupAuthorizationFailedError):
            await join_group(secure.bootstrap, a.kafka_security, Topics.firm_outbound(a.firm_id), group)


async def test_a_firm_cannot_read_any_internal_topic(secure):
    for topic in [*INTERNAL_TOPICS, "__consumer_offsets"]:
        with pytest.raises(TopicAuthorizationFailedError):
            await read_assigned(secure.bootstrap, secure.firm_a.kafka_security, topic)


async def test_a_wrong_password_is_refused(secure):
    a = secure.firm_a
    wrong = KafkaSecurity("SASL_PLAINTEXT", "SCRAM-SHA-512", a.username, a.password + "x")
    with pytest.raises(KafkaConnectionError):
        await produce_one(secure.bootstrap, wrong, Topics.firm_inbound(a.firm_id))
    assert not await asyncio.to_thread(kafka_answers, secure.bootstrap, 5.0, wrong)
    assert await asyncio.to_thread(kafka_answers, secure.bootstrap, 5.0, a.kafka_security)


async def test_a_plaintext_connection_is_refused(secure):
    producer = AIOKafkaProducer(bootstrap_servers=secure.bootstrap, request_timeout_ms=5000)
    with pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(producer.start(), 60)
    await producer.stop()


def mednet(secure, *arguments: str) -> str:
    result = CliRunner().invoke(cli, [*arguments, "--data-dir", str(secure.stack.data_dir)], env={"COLUMNS": "1000"})
    assert result.exit_code == 0, result.output
    return result.output


def setting(output: str, name: str) -> str:
    return next(line.split("│")[2].strip() for line in output.splitlines() if f"│ {name} " in line)


async def test_firms_add_prints_working_settings_and_a_revoked_firm_can_no_longer_log_in(secure):
    firm_id = f"gamma-{secure.firm_a.firm_id.split('-')[1]}"
    shown = await asyncio.to_thread(mednet, secure, "firms", "add", firm_id)
    gamma = KafkaSecurity(setting(shown, "security.protocol"), setting(shown, "sasl.mechanism"),
                          setting(shown, "sasl.username"), setting(shown, "sasl.password"))
    assert setting(shown, "bootstrap.servers") == secure.bootstrap
    assert setting(shown, "produce to") == Topics.firm_inbound(firm_id)
    assert setting(shown, "consumer group prefix") == f"mednet.firm.{firm_id}."
    principal = verify_token(firms.token_policy(secure.stack.data_dir), setting(shown, "HTTP bearer token"))
    assert (principal.role, principal.firm_id) == (Role.FIRM, firm_id)
    await produce_one(secure.bootstrap, gamma, Topics.firm_inbound(firm_id))
    assert firm_id in await asyncio.to_thread(mednet, secure, "firms", "list")

    revoked = await asyncio.to_thread(mednet, secure, "firms", "revoke", firm_id, "--yes")
    assert f"{firm_id} revoked" in revoked and "user-deleted" in revoked
    with pytest.raises(KafkaConnectionError):
        await produce_one(secure.bootstrap, gamma, Topics.firm_inbound(firm_id))
    assert firms.registry(secure.stack.data_dir)[firm_id]["revoked_at"]
