"""The AsyncAPI documents (docs/asyncapi): generated from each service's wiring, current, accepted by the AsyncAPI
parser without a single diagnostic, and the firm's document types every command a firm can send and every event it
can receive."""

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mednet_cli.ops import acls
from mednet_shared.contracts import asyncapi, catalog
from mednet_shared.contracts.events import COMMANDS, SubmitCase
from mednet_shared.contracts.wiring import FIRM_INBOUND, firm_commands, firm_outbound_events, wirings

TOOLS = Path(__file__).resolve().parents[2] / "deploy" / "tools" / "asyncapi"
NAMES = ("intake", "scheduling", "notes", "notify", "firm")


@pytest.fixture(scope="module")
def generated():
    return catalog.asyncapi_documents()


@pytest.fixture(scope="module")
def wired():
    return wirings()


def checked_in(name: str) -> dict:
    return json.loads((catalog.ASYNCAPI_DIR / f"{name}.json").read_text())


def parse(paths: list[Path]) -> dict[str, dict]:
    node = shutil.which("node")
    assert node, "node is required to validate the AsyncAPI documents (apt-get install nodejs npm)"
    assert (TOOLS / "node_modules" / "@asyncapi" / "parser").is_dir(), (
        "@asyncapi/parser is not installed: run `make setup` (npm ci in deploy/tools/asyncapi)")
    runs = [subprocess.Popen([node, str(TOOLS / "validate.mjs"), *map(str, paths[half::2])], text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for half in (0, 1)]  # on two cores
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [error.strip() for _, error in outputs] == ["", ""], outputs
    return {json.loads(line)["file"]: json.loads(line) for output, _ in outputs for line in output.splitlines()}


def missing_from(document: dict, commands, events) -> list[str]:
    """Each command or event a firm can send or receive that the firm document does not type by its schema."""
    channels, schemas = document["channels"], document["components"]["schemas"]
    messages = document["components"]["messages"]

    def typed(channel: str, model, prefix: str) -> bool:
        reference = channels[channel]["messages"].get(model.__name__, {}).get("$ref", "")
        message = messages.get(reference.rpartition("/")[2], {})
        envelope = schemas.get(message.get("payload", {}).get("$ref", "").rpartition("/")[2], {})
        shape = envelope.get("allOf", [{}, {}])[1].get("properties", {})
        return (shape.get("type") == {"const": model.type_name()}
                and shape.get("data") == {"$ref": f"#/components/schemas/{prefix}{model.__name__}"}
                and f"{prefix}{model.__name__}" in schemas)

    return ([f"command {m.__name__}" for m in commands if not typed("firmInbound", m, "")]
            + [f"event {m.__name__}" for m in events if not typed("firmOutbound", m, asyncapi.VIEW)])


@pytest.mark.parametrize("name", NAMES)
def test_each_asyncapi_document_is_current(generated, name):
    assert (catalog.ASYNCAPI_DIR / f"{name}.json").exists(), f"run `mednet catalog export` to add {name}.json"
    assert catalog.render(checked_in(name)) == catalog.render(generated[name]), (
        f"docs/asyncapi/{name}.json is out of date: run `mednet catalog export`")
    assert set(generated) == set(NAMES)


def test_the_asyncapi_parser_accepts_every_document_without_a_diagnostic_and_refuses_a_broken_one(tmp_path):
    broken = checked_in("firm")
    broken["components"]["messages"]["SubmitCase"]["payload"] = {"$ref": "#/components/schemas/Nowhere"}
    broken["channels"]["firmInbound"]["address"] = "mednet.firm.{firm}.inbound"
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    documents = [catalog.ASYNCAPI_DIR / f"{name}.json" for name in NAMES]
    results = parse([*documents, tmp_path / "broken.json"])
    for path in documents:
        assert results[str(path)]["parsed"], path
        assert results[str(path)]["diagnostics"] == [], (path.name, results[str(path)]["diagnostics"])
    codes = {d["code"] for d in results[str(tmp_path / "broken.json")]["diagnostics"]}
    assert {"invalid-ref", "asyncapi3-channel-parameters"} <= codes


def test_the_firm_document_types_every_command_a_firm_can_send_and_every_event_it_can_receive(wired):
    commands, events = firm_commands(wired), firm_outbound_events()
    assert set(commands) == set(COMMANDS), "a command of the contracts no service handles, or the reverse"
    assert missing_from(checked_in("firm"), commands, events) == []


def test_the_coverage_check_fails_when_a_command_or_an_event_has_no_schema(wired):
    commands, events = firm_commands(wired), firm_outbound_events()
    without = copy.deepcopy(checked_in("firm"))
    del without["channels"]["firmInbound"]["messages"]["SubmitCase"]
    del without["components"]["schemas"]["FirmView.CallScheduled"]
    assert missing_from(without, commands, events) == ["command SubmitCase", "event CallScheduled"]


def test_messages_are_the_models_schemas_in_cloudevent_envelopes():
    firm = checked_in("firm")
    schemas = firm["components"]["schemas"]
    submit = SubmitCase.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in submit.pop("$defs").items():
        assert schemas[name] == definition
    assert schemas["SubmitCase"] == submit
    assert not any(key in json.dumps(schemas[f"{asyncapi.VIEW}CaseOpened"]) for key in ('"required"', '"minItems"'))
    message = firm["components"]["messages"]["SubmitCase"]
    assert message["contentType"] == "application/cloudevents+json"
    assert message["correlationId"] == {"$ref": "#/components/correlationIds/command"}
    for name in NAMES:
        for key, message in checked_in(name)["components"]["messages"].items():
            payload = message["payload"]
            assert [*payload] == ["$ref"] and payload["$ref"].endswith(".event") or key == "WebhookDelivery", key


def test_the_firm_document_has_parameterised_channels_servers_security_and_webhooks():
    firm = checked_in("firm")
    assert firm["asyncapi"].startswith("3.")
    assert firm["channels"]["firmInbound"]["address"] == "mednet.firm.{firmId}.inbound"
    assert firm["channels"]["firmOutbound"]["address"] == "mednet.firm.{firmId}.outbound"
    assert firm["servers"]["local"]["host"] == "127.0.0.1:9092"
    assert firm["servers"]["deployment"]["protocol"] == "kafka-secure"
    assert firm["components"]["securitySchemes"]["scram"]["type"] == "scramSha512"
    headers = firm["components"]["schemas"]["WebhookHeaders"]
    assert set(headers["required"]) == {"webhook-id", "webhook-timestamp", "webhook-signature", "content-type"}
    policy = firm["operations"]["receiveWebhook"]["description"]
    assert all(word in policy for word in ("whsec_", "Standard Webhooks", "attempts", "disabled"))
    group = firm["operations"]["receiveEvent"]["bindings"]["kafka"]["groupId"]
    assert re.fullmatch(group["pattern"], acls.group_prefix("harbor-law") + "case-system")
    assert not re.fullmatch(group["pattern"], "mednet-notify")
    webhook_types = {branch["$ref"] for branch in firm["components"]["messages"]["WebhookDelivery"]["payload"]["oneOf"]}
    assert len(webhook_types) == len(firm["channels"]["firmOutbound"]["messages"])


def test_each_service_document_lists_what_its_wiring_consumes_and_publishes(wired):
    for service, wiring in wired.items():
        document = checked_in(service)
        addresses = {channel["address"]: set(channel["messages"]) for channel in document["channels"].values()}
        for channel, types in wiring.consumed().items():
            assert channel in addresses, (service, channel)
            if channel == FIRM_INBOUND:
                assert {m.__name__ for m in types} == addresses[channel]
        for topic, types in wiring.publishes.items():
            assert {m.__name__ for m in types} == addresses[topic], (service, topic)
    assert "CommandRejected" in {m.__name__ for m in wired["scheduling"].publishes["mednet.scheduling.events"]}
    assert wired["notify"].publishes["mednet.firm.{firmId}.outbound"] == firm_outbound_events()


def validator(document: dict, name: str):
    from jsonschema import Draft7Validator

    # formats are annotations (JSON Schema's default): pydantic names a time of day `format: time`, yet reads
    # "18:00", which RFC 3339's full-time (what a format checker asserts) is not
    return Draft7Validator({"$ref": f"#/components/schemas/{name}", "components": document["components"]})


def test_a_firms_real_command_and_its_projected_events_are_valid_under_the_firm_document():
    from datetime import UTC, datetime

    from mednet_cli import samples
    from mednet_notify.projection import project
    from mednet_shared.contracts.envelope import new_event
    from mednet_shared.contracts.events import CaseOpened
    from mednet_shared.contracts.values import Side

    firm = checked_in("firm")
    document = samples.submission("ref-1", parties=3, now=datetime(2026, 12, 1, tzinfo=UTC))
    command = samples.submit_case("firm-a", document)
    assert list(validator(firm, "SubmitCase.event").iter_errors(command.model_dump(mode="json"))) == []
    sides = [Side(party_id=p["party_id"], role=p["role"], firm_id=p["attorney"]["firm_id"], status="confirmed",
                  since=datetime(2026, 12, 1, tzinfo=UTC), confirmed_by="firm") for p in document["parties"]]
    opened = CaseOpened(**document, case_id="case-1", firm_id="firm-a", sides=sides,
                        participant_firms=["firm-a", "firm-b", "firm-c"])
    event = new_event(opened, "/mednet/intake", caused_by=command)
    seen = project(event, opened, "firm-b").model_dump(mode="json", exclude_none=True)
    assert list(validator(firm, "FirmView.CaseOpened.event").iter_errors(seen)) == []
    assert list(validator(closed(firm), "FirmView.CaseOpened.event").iter_errors(seen)) == []
    strict = list(validator(checked_in("intake"), "CaseOpened.event").iter_errors(seen))
    assert strict, "a firm's view leaves out other sides' data: the model's own schema refuses it"
    assert list(validator(firm, "FirmView.CaseOpened.event").iter_errors({**seen, "type": "mednet.Other.v1"}))


def test_every_message_says_what_its_kafka_key_is_and_an_undocumented_key_stops_the_export():
    from mednet_shared.contracts.events import BY_TYPE, CaseRejected

    firm = checked_in("firm")
    keys = {m["name"]: m["bindings"]["kafka"]["key"]["description"] for m in firm["components"]["messages"].values()
            if "kafka" in m["bindings"]}
    assert keys["SubmitCase"].startswith("Your `external_ref`") and "reference" in keys["CaseRejected"]
    assert keys["ChooseCallSlot"] == "The case id (the CloudEvent `subject`)."
    overridden = [model for model in BY_TYPE.values() if model.subject is not BY_TYPE["mednet.CaseOpened.v1"].subject]
    assert all("case id (the CloudEvent" not in asyncapi.key_of(model) for model in overridden)

    class Undocumented(CaseRejected):
        def subject(self) -> str:
            return self.firm_id

    with pytest.raises(ValueError, match="Undocumented.subject"):
        asyncapi.key_of(Undocumented)


def closed(document: dict) -> dict:
    """The document with every data schema closed (additionalProperties false): an undocumented field fails."""
    def close(schema):
        if isinstance(schema, dict):
            schema = {key: close(value) for key, value in schema.items()}
            if "properties" in schema and "additionalProperties" not in schema:
                schema["additionalProperties"] = False
            return schema
        return [close(item) for item in schema] if isinstance(schema, list) else schema
    schemas = {name: schema if name == "CloudEvent" or name.endswith(".event") else close(schema)
               for name, schema in document["components"]["schemas"].items()}  # the envelopes are open
    return {**document, "components": {**document["components"], "schemas": schemas}}


def test_a_firms_views_carry_no_field_the_firm_document_does_not_name():
    from datetime import UTC, datetime

    from mednet_notify.domain import CaseState
    from mednet_notify.projection import project
    from mednet_shared.contracts.envelope import new_event
    from mednet_shared.contracts.events import CaseWithdrawn, PreMediationCompleted

    firm, now = closed(checked_in("firm")), datetime(2026, 12, 1, tzinfo=UTC)
    case = CaseState(firm_id="firm-a", party_firms={"p1": ["firm-a"], "p2": ["firm-b"]})
    for message in (PreMediationCompleted(case_id="c", mediator_id="m", call_ids=["c:p1", "c:p2"], completed_at=now,
                                          participant_firms=["firm-a", "firm-b"]),
                    CaseWithdrawn(case_id="c", firm_id="firm-a", reason="settled", participant_firms=["firm-a"])):
        seen = project(new_event(message, "/mednet/test"), message, "firm-b", case).model_dump(mode="json")
        name = f"{asyncapi.VIEW}{type(message).__name__}.event"
        assert list(validator(firm, name).iter_errors(seen)) == [], name
        assert list(validator(firm, name).iter_errors({**seen, "data": {**seen["data"], "undocumented": 1}}))
