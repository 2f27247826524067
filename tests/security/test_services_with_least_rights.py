"""The four services run on the secured cluster as their own principals, with only the ACLs that
`mednet stack up --security` and `mednet firms add` grant them; intake takes the firm from the topic a
command arrived on (which only that firm's principal may write), never from the envelope or payload."""

from __future__ import annotations

import asyncio
import time

import pytest

from kafka_clients import produce_one, read_all
from kafka_helpers import command
from mednet_cli import firms, kafka_acls
from mednet_intake.domain import case_id_for
from mednet_shared.contracts.envelope import CloudEvent, EnvelopeError
from mednet_shared.contracts.topics import Topics
from sample_cases import submission
from mednet_cli.processes import free_port
from services_harness import TEST_LINK_KEYS, TEST_NOTES_KEY, jwt_settings, running

pytestmark = pytest.mark.timeout(600)


def secure_settings(secure, service: str, unique: str, **overrides):
    import importlib

    config = importlib.import_module(f"mednet_{service}.config")
    user = kafka_acls.service_user(service)
    return config.Settings(
        kafka_bootstrap_servers=secure.bootstrap, mongodb_url=secure.stack.mongo.url,
        mongodb_database=f"t_{unique}_{service}", consumer_group_id=f"{user}-{unique}",
        kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username=user,
        kafka_sasl_password=kafka_acls.credentials(secure.stack.data_dir)[user], outbox_sweep_seconds=1.0,
        **jwt_settings(), **overrides)


def events_in(records: list) -> list[CloudEvent]:
    """The CloudEvents among the records (other tests leave plain bytes on the firm's topics)."""
    found = []
    for record in records:
        try:
            found.append(CloudEvent.from_bytes(record.value))
        except EnvelopeError:
            pass
    return found


async def events(secure, topic: str, subject: str, kind: str, timeout: float = 120) -> list[CloudEvent]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in events_in(await read_all(secure.bootstrap, secure.stack.admin_security, topic))
                 if e.subject == subject and e.type == f"mednet.{kind}.v1"]
        if found:
            return found
        await asyncio.sleep(0.5)
    raise AssertionError(f"no {kind} for {subject} on {topic} within {timeout}s")


async def choose_each(secure, firm, offers) -> None:
    """The firm chooses each side's first offered slot on its own inbound topic (its own credentials)."""
    newest = {offer.party_id: offer for offer in offers}
    for offer in newest.values():
        choice = command({"case_id": offer.case_id, "party_id": offer.party_id, "offer_id": offer.offer_id,
                          "slot_id": offer.slots[0].slot_id}, "mednet.ChooseCallSlot.v1")
        await produce_one(secure.bootstrap, firm.kafka_security, Topics.firm_inbound(firm.firm_id),
                          choice.to_record("unused").value)


async def of_each(secure, case_id: str, kind: str, parties: set[str], timeout: float = 120) -> list[CloudEvent]:
    """The case's scheduling events of this kind once there is one for every named party."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await events(secure, Topics.SCHEDULING, case_id, kind, timeout)
        if {e.payload().party_id for e in found} >= parties:
            return found
        await asyncio.sleep(0.5)
    raise AssertionError(f"no {kind} for each of {sorted(parties)} of {case_id} within {timeout}s")


async def test_the_services_work_with_their_least_rights_and_the_firm_comes_from_the_topic(secure, unique):
    a, b = secure.firm_a, secure.firm_b
    intake = secure_settings(secure, "intake", unique,
                             inbound_topic_pattern=rf"mednet\.firm\.{a.firm_id}\.inbound$")
    others = {name: secure_settings(secure, name, unique, **extra) for name, extra in
              (("scheduling", {"link_keys": TEST_LINK_KEYS, "link_active_kid": "l1",
                                "public_url": "http://scheduling.test"}), ("notes", {"encryption_key": TEST_NOTES_KEY, "link_keys": TEST_LINK_KEYS, "link_active_kid": "l1"}),
               ("notify", {"smtp_port": free_port(), "delivery_max_attempts": 1}))}
    async with running("intake", intake, from_now=False), \
            running("scheduling", others["scheduling"], from_now=False), \
            running("notes", others["notes"], from_now=False) as notes, \
            running("notify", others["notify"], from_now=False):
        document = submission(f"sec-{unique}", mediator_id=f"med-{unique}", represented_by=a.firm_id)
        forged = command(document)
        forged = CloudEvent.model_validate({**forged.model_dump(), "firmid": b.firm_id})
        record = forged.to_record(Topics.firm_inbound(a.firm_id))
        await produce_one(secure.bootstrap, a.kafka_security, Topics.firm_inbound(a.firm_id), record.value)

        opened = await events(secure, Topics.INTAKE, case_id_for(a.firm_id, f"sec-{unique}"), "CaseOpened")
        assert opened[0].payload().firm_id == a.firm_id, "the firm is the topic's, not the envelope's"
        assert opened[0].firmid == a.firm_id
        offered = await of_each(secure, opened[0].subject, "CallSlotsOffered", {"p1", "p2"})
        await choose_each(secure, a, [e.payload() for e in offered])
        scheduled = await of_each(secure, opened[0].subject, "CallScheduled", {"p1", "p2"})
        assert {e.payload().booked_by for e in scheduled} == {"choice"}
        reschedule = command({"case_id": opened[0].subject, "party_id": "p1", "reason": "travelling"},
                             "mednet.RequestReschedule.v1")
        await produce_one(secure.bootstrap, a.kafka_security, Topics.firm_inbound(a.firm_id),
                          reschedule.to_record("unused").value)
        moved = await events(secure, Topics.SCHEDULING, opened[0].subject, "CallRescheduled")
        assert moved[0].payload().party_id == "p1" and moved[0].payload().reason == "travelling"
        deadline = time.monotonic() + 120
        while not (mine := [e for e in events_in(await read_all(secure.bootstrap, a.kafka_security,
                                                                Topics.firm_outbound(a.firm_id)))
                            if e.subject == opened[0].subject]):
            assert time.monotonic() < deadline, "notify fed the firm's outbound topic"
        assert {e.type for e in mine} >= {"mednet.CaseOpened.v1"}
        deadline = time.monotonic() + 120
        while len(getattr(await notes.state.notes.store.case(opened[0].subject), "calls", [])) < len(scheduled):
            assert time.monotonic() < deadline, "notes learned the case and its calls"
            await asyncio.sleep(0.5)


async def test_without_its_read_on_the_firm_inbound_topic_scheduling_never_books_the_firm_choice(secure, unique):
    """A right the wiring derives is needed: scheduling's read on a firm's inbound topic is taken away, and that
    firm's ChooseCallSlot is never booked (the first test books the same choice with every right in place)."""
    gamma = await asyncio.to_thread(firms.add, secure.stack, f"gamma-{unique[:8]}")
    inbound = Topics.firm_inbound(gamma.firm_id)
    await asyncio.to_thread(kafka_acls.run_admin, secure.stack, [
        f"acl-delete\ttopic\tliteral\t{inbound}\tUser:{kafka_acls.service_user('scheduling')}"])
    pattern = {"inbound_topic_pattern": rf"mednet\.firm\.{gamma.firm_id}\.inbound$"}
    scheduling = secure_settings(secure, "scheduling", unique, link_keys=TEST_LINK_KEYS, link_active_kid="l1",
                                 public_url="http://scheduling.test", **pattern)
    async with running("intake", secure_settings(secure, "intake", unique, **pattern), from_now=False), \
            running("scheduling", scheduling, from_now=False):
        document = submission(f"gamma-{unique}", mediator_id=f"med-g{unique}", represented_by=gamma.firm_id)
        await produce_one(secure.bootstrap, gamma.kafka_security, inbound, command(document).to_record(inbound).value)
        case_id = case_id_for(gamma.firm_id, f"gamma-{unique}")
        offered = await of_each(secure, case_id, "CallSlotsOffered", {"p1", "p2"})
        await choose_each(secure, gamma, [e.payload() for e in offered])
        with pytest.raises(AssertionError, match="no CallScheduled"):
            await events(secure, Topics.SCHEDULING, case_id, "CallScheduled", timeout=30)
