"""A firm's client: submit a case, choose the first offered slot of each side, print every answer until each side's
call is booked. Answers are matched to the commands by correlationid.
  KAFKA_BOOTSTRAP_SERVERS=host:port FIRM_ID=harbor-law python docs/examples/firm_client.py case.json
Secured: KAFKA_SECURITY_PROTOCOL=SASL_SSL, KAFKA_SASL_USERNAME=firm-<id>, KAFKA_SASL_PASSWORD, KAFKA_SSL_CAFILE."""
import asyncio, json, os, sys, uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.helpers import create_ssl_context

FIRM, env, protocol = os.environ["FIRM_ID"], os.environ.get, os.environ.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
KAFKA = dict(bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"], security_protocol=protocol,
             sasl_mechanism="SCRAM-SHA-512", sasl_plain_username=env("KAFKA_SASL_USERNAME"),
             sasl_plain_password=env("KAFKA_SASL_PASSWORD"),
             ssl_context=create_ssl_context(cafile=env("KAFKA_SSL_CAFILE")) if protocol.endswith("SSL") else None)


def command(kind: str, subject: str, data: dict) -> dict:
    return {"specversion": "1.0", "id": str(uuid.uuid4()), "type": f"mednet.{kind}.v1", "source": f"/firms/{FIRM}",
            "subject": subject, "time": datetime.now(UTC).isoformat(), "datacontenttype": "application/json",
            "data": data}


async def main(case: dict) -> None:
    consumer = AIOKafkaConsumer(f"mednet.firm.{FIRM}.outbound", group_id=f"mednet.firm.{FIRM}.example",
                                auto_offset_reset="earliest", **KAFKA)
    producer = AIOKafkaProducer(acks="all", enable_idempotence=True, **KAFKA)
    await asyncio.gather(consumer.start(), producer.start())
    sent, seen, booked = set(), set(), set()

    async def send(event: dict) -> None:
        sent.add(event["id"])
        await producer.send_and_wait(f"mednet.firm.{FIRM}.inbound", json.dumps(event).encode(), key=event[
            "subject"].encode(), headers=[("content-type", b"application/cloudevents+json")])
    try:
        await send(command("SubmitCase", case["external_ref"], case))
        async for record in consumer:
            event = json.loads(record.value)
            if event.get("correlationid") not in sent or event["id"] in seen:   # not ours, or delivered again
                continue
            seen.add(event["id"])
            data, kind = event["data"], event["type"]
            print(kind, record.key.decode(), data.get("party_id", ""), flush=True)
            if kind in ("mednet.CaseRejected.v1", "mednet.CommandRejected.v1"):
                raise SystemExit(f"{kind}: {data['reasons']}")
            if kind == "mednet.CallSlotsOffered.v1":
                choice = {name: data[name] for name in ("case_id", "party_id", "offer_id")}
                choice["slot_id"] = data["slots"][0]["slot_id"]   # the first; any of the offered slots will do
                await send(command("ChooseCallSlot", data["case_id"], choice))
            booked |= {data["party_id"]} if kind == "mednet.CallScheduled.v1" else set()
            if len(booked) == len(case["parties"]):
                return
    finally:
        await asyncio.gather(producer.stop(), consumer.stop())


with open(sys.argv[1]) as file:
    submitted = json.load(file)
try:
    asyncio.run(asyncio.wait_for(main(submitted), float(env("WAIT_SECONDS", "120"))))
except TimeoutError:
    raise SystemExit(f"not every side's call was booked within {env('WAIT_SECONDS', '120')} s") from None
