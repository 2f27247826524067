"""The attacks of issue 17 on intake, written with what intake offered before sides existed (so each one can be run
against that code and seen to succeed there): firm A submits, naming firm B for the respondent p2."""

from __future__ import annotations

import json

from intake_kit import NOW, command, incoming
from mednet_intake import domain
from mednet_shared.contracts.events import (
    CaseOpened,
    CaseUpdated,
    CommandRejected,
    SubmitCase,
    UpdatePartyAvailability,
    WithdrawCase,
)
from mednet_shared.platform.auth import Role
from sample_cases import hours, submission, variant
from services_harness import client

A, B = "firm-a", "firm-b"


async def opened(world) -> str:
    document = variant(submission("ref-1", now=NOW), "parties.0.attorney.firm_id", A)
    event, topic = command(A, SubmitCase, document, "submit")
    await world.commands.submit_case(incoming(event, topic))
    return domain.case_id_for(A, "ref-1")


async def test_a_firm_merely_named_reads_nothing_of_the_other_side(world):
    case_id = await opened(world)
    async with client(world.app, Role.FIRM, firm_id=B) as b:
        seen = json.dumps((await b.get(f"/v1/cases/{case_id}")).json())
    assert "p1@parties.example.org" not in seen and "counsel-p1" not in seen


async def test_the_case_opened_does_not_name_a_firm_that_never_confirmed(world):
    await opened(world)
    [case_opened] = world.store.outbox.messages(CaseOpened)
    assert B not in case_opened.participant_firms


async def test_the_submitting_firm_cannot_rewrite_the_other_sides_availability(world):
    case_id = await opened(world)
    data = {"case_id": case_id, "party_id": "p2", "availability": hours("03:00", "04:00")}
    event, topic = command(A, UpdatePartyAvailability, data, "a-moves-b")
    try:
        await world.commands.update_party_availability(incoming(event, topic))
    except Exception:
        pass
    assert not world.store.outbox.messages(CaseUpdated)
    assert (await world.store.get(case_id)).party("p2").availability[0].start.hour != 3


async def test_a_refused_command_is_answered_to_its_sender_not_only_dead_lettered(world):
    case_id = await opened(world)
    event, topic = command(B, WithdrawCase, {"case_id": case_id}, "b-withdraws")
    await world.commands.withdraw_case(incoming(event, topic))   # before: PoisonMessage, a dead letter, silence
    [refused] = world.store.outbox.messages(CommandRejected)
    assert (refused.firm_id, refused.command_id) == (B, "b-withdraws")
