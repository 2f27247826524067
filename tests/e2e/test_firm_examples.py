"""The firm guide's examples (docs/examples), run as a firm runs them against firms onboarded on the real stack with
intake, scheduling and notify running: a submission with kcat alone answered by CaseOpened (and a bad one by
CaseRejected), and the aiokafka client that submits, chooses each side's offered slot and receives its calls."""

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path

from kafka_helpers import event_of, read
from mednet_cli.ops.acls import firm_topics
from mednet_intake.domain import case_id_for
from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.kafka import ensure_topics
from receivers import SmtpServer
from sample_cases import submission
from services_harness import services

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


async def run(infrastructure, firm: str, *command: str) -> tuple[int, str, str]:
    environment = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": infrastructure.kafka_bootstrap_servers, "FIRM_ID": firm,
                   "WAIT_SECONDS": "90"}
    process = await asyncio.create_subprocess_exec(*command, env=environment, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 150)
    return process.returncode, out.decode(), err.decode()


async def trail(kafka: str, case_id: str, *topics: str) -> str:
    """What the case's records on these topics were (for a failure's message): topic, type, id, correlationid."""
    records = [(topic, r) for topic in topics for r in await read(kafka, topic, 10**6, timeout=1.5)
               if r.key == case_id.encode()]
    return "\n".join(f"{topic} {e.type} {e.id} {e.correlationid}" for topic, r in records
                     for e in [CloudEvent.from_bytes(r.value)])


def case_file(tmp_path: Path, name: str, document: dict) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(document, indent=2))   # as a firm would write it: over several lines
    return str(path)


async def test_the_guides_kcat_and_python_examples_on_the_stack(infrastructure, kafka, unique, tmp_path):
    kcat = shutil.which("kcat")
    assert kcat, "kcat is missing: `make setup` installs it (deploy/tools/install-tools.sh)"
    by_kcat, by_python = f"kcat-{unique}", f"client-{unique}"
    await ensure_topics(kafka, [topic for firm in (by_kcat, by_python) for topic in firm_topics(firm)])
    submitted = submission(f"kc-{unique}", represented_by=by_kcat, mediator_id=f"med-k{unique}")
    bad = submission(f"bad-{unique}", represented_by=by_kcat, mediator_id=f"med-k{unique}")
    bad["parties"] = bad["parties"][:1]
    chosen = submission(f"py-{unique}", represented_by=by_python, mediator_id=f"med-p{unique}")
    with SmtpServer() as smtp:
        async with services(infrastructure, unique, "intake", "scheduling", "notify",
                            overrides={"notify": {"smtp_port": smtp.port}}):
            script = str(EXAMPLES / "submit_with_kcat.sh")
            opened, rejected, client = await asyncio.gather(
                run(infrastructure, by_kcat, "bash", script, case_file(tmp_path, "case", submitted)),
                run(infrastructure, by_kcat, "bash", script, case_file(tmp_path, "bad", bad)),
                run(infrastructure, by_python, sys.executable, str(EXAMPLES / "firm_client.py"),
                    case_file(tmp_path, "chosen", chosen)))

            for name, (code, out, err) in zip(("kcat", "kcat, bad case", "python client"), (opened, rejected, client)):
                print(f"[{name}] exit {code}\n{out}{err}")
            code, out, err = opened
            assert code == 0, f"{out}\n{err}"
            key, _, value = out.strip().partition("\t")
            answer = CloudEvent.from_bytes(value.encode())
            assert answer.type == "mednet.CaseOpened.v1"
            assert key == answer.subject == case_id_for(by_kcat, f"kc-{unique}")
            sent = [event_of(r) for r in await read(kafka, Topics.firm_inbound(by_kcat), 10, timeout=2)]   # the SDK
            assert answer.correlationid == next(e.id for e in sent if e.subject == f"kc-{unique}")

            code, out, err = rejected
            assert code == 1 and "mednet.CaseRejected.v1" in out and "parties" in out, f"{out}\n{err}"

            code, out, err = client
            case_id = case_id_for(by_python, f"py-{unique}")
            assert code == 0, f"{out}\n{err}\n" + await trail(kafka, case_id, Topics.firm_inbound(by_python),
                                                              Topics.firm_outbound(by_python))
            lines = out.splitlines()
            assert f"mednet.CaseOpened.v1 {case_id} " in lines
            for party in ("p1", "p2"):
                assert f"mednet.CallSlotsOffered.v1 {case_id} {party}" in lines
                assert f"mednet.CallScheduled.v1 {case_id} {party}" in lines
            commands = [event_of(r) for r in await read(kafka, Topics.firm_inbound(by_python), 10, timeout=2)]
            assert [e.type for e in commands].count("mednet.ChooseCallSlot.v1") == 2
            received = [event_of(r) for r in await read(kafka, Topics.firm_outbound(by_python), 100, timeout=2)]
            booked = {e.data["party_id"]: e for e in received if e.type == "mednet.CallScheduled.v1"}
            assert {party: e.data["booked_by"] for party, e in booked.items()} == {"p1": "choice", "p2": "choice"}
            chosen_by = {e.data["party_id"]: e.id for e in commands if e.type == "mednet.ChooseCallSlot.v1"}
            assert {party: e.correlationid for party, e in booked.items()} == chosen_by
