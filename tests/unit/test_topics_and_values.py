import pytest
from pydantic import ValidationError

from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import Contact, Mediator


def test_firm_topics():
    assert Topics.firm_inbound("smith-law") == "mednet.firm.smith-law.inbound"
    assert Topics.firm_outbound("smith-law") == "mednet.firm.smith-law.outbound"
    assert Topics.firm_of_inbound("mednet.firm.smith-law.inbound") == "smith-law"
    assert Topics.firm_of_inbound("mednet.firm.smith-law.outbound") is None
    assert Topics.dead_letter(Topics.INTAKE) == "mednet.intake.events.dlq"


@pytest.mark.parametrize("bad", ["", "A", "UPPER", "with.dot", "x" * 64, "-lead"])
def test_firm_ids_are_checked(bad):
    with pytest.raises(ValueError):
        Topics.firm_inbound(bad)


def mediator(**overrides) -> dict:
    return {"mediator_id": "med-1", "name": "M", "email": "m@example.org", "time_zone": "Asia/Kolkata",
            "working_hours": [{"day": "mon", "start": "09:00", "end": "17:00"}], **overrides}


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "America/St_Johns", "Australia/Lord_Howe", "Europe/London", "UTC"])
def test_iana_zones_are_accepted(zone):
    assert Mediator(**mediator(time_zone=zone)).time_zone == zone


@pytest.mark.parametrize("zone", ["Mars/Olympus", "GMT+25", "../etc/passwd", ""])
def test_unknown_zones_are_rejected_by_name(zone):
    with pytest.raises(ValidationError, match="time_zone"):
        Mediator(**mediator(time_zone=zone))


def test_contacts_need_a_real_email():
    with pytest.raises(ValidationError, match="email"):
        Contact(name="A", email="not-an-email")


def test_kafka_cluster_ids_never_start_with_a_dash():
    from mednet_cli.stack import _kafka_cluster_id

    identifiers = [_kafka_cluster_id() for _ in range(5000)]
    assert all(len(i) == 22 and not i.startswith("-") for i in identifiers)
