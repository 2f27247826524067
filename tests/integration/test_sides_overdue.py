"""The overdue sweeper on the real database, two intake instances: a side still awaiting confirmation once its
deadline has come is raised once (SideConfirmationOverdue), whichever instance sweeps; a confirmed side never."""

import asyncio

from kafka_helpers import events_of, read
from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.auth import Role
from sample_cases import submission, variant
from services_harness import client, services


async def test_two_instances_raise_each_overdue_side_once(infrastructure, kafka, unique):
    firm, mediator = f"firm-{unique}", f"med-{unique}"
    document = variant(submission(f"due-{unique}", parties=3, mediator_id=mediator, days_ahead=3),
                       "parties.0.attorney.firm_id", firm)   # p1 confirmed at once; p2, p3 await their firms
    document = variant(document, "policy.confirmation_due_days", 7)   # due four days ago: at once
    async with services(infrastructure, unique, "intake", instances={"intake": 2},
                        overrides={"intake": {"sweep_seconds": 0.2}}) as apps:
        first, second = apps["intake"]
        async with client(first, Role.FIRM, firm_id=firm) as submitter:
            created = await submitter.post("/v1/cases", json=document)
            assert created.status_code == 201, created.text
        case_id = created.json()["case_id"]
        raised = await events_of(kafka, Topics.INTAKE, case_id, "SideConfirmationOverdue", 2, timeout=30)
        await asyncio.sleep(2)   # both instances swept many times meanwhile
        raised = [CloudEvent.from_bytes(r.value) for r in await read(kafka, Topics.INTAKE, 10**6, timeout=1.5)]
        raised = [e for e in raised if e.subject == case_id and e.type == "mednet.SideConfirmationOverdue.v1"]
        assert sorted(e.data["party_id"] for e in raised) == ["p2", "p3"]
        assert raised[0].data["mediator_id"] == mediator
        stored = await second.state.intake.store.get(case_id)
        assert stored.due is None and len(stored.overdue_raised) == 2
