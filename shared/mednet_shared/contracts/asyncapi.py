"""AsyncAPI 3.1 documents: one per service, from its wiring, and one a firm reads on its own (docs/asyncapi).

Every message is the CloudEvent envelope with `type` fixed and `data` typed by the JSON Schema of its model; the
models' definitions become components.schemas. A firm's outbound events are projections (notify's whitelist:
another side's fields and entries are left out), so their data schemas keep every field's type but require none.
"""

from __future__ import annotations

from typing import Any

from .envelope import CONTENT_TYPE, CloudEvent
from .events import Message, PreMediationCompleted, SubmitCase
from .topics import FIRM_ID_PATTERN
from .wiring import FIRM_INBOUND, FIRM_OUTBOUND, Wiring, firm_commands, published_on, wirings

VERSION = "3.1.0"
KAFKA = {"bindingVersion": "0.5.0"}
SCHEMAS = "#/components/schemas/"
VIEW = "FirmView."
ADDED = {  # fields a firm's view adds to its event's (notify's projection; the contract test checks no other)
    PreMediationCompleted: {
        "calls_done": {"type": "integer", "minimum": 1, "description": "How many of the case's calls were held"},
        "calls_waived": {"type": "integer", "minimum": 0, "description": "How many were waived"}},
}
KEYS = {SubmitCase: "Your `external_ref` (there is no case id yet); the same as the CloudEvent `subject`."}
GROUPS = r"^mednet\.firm\.[a-z0-9][a-z0-9-]{1,62}\..+$"
FIRM_LOGIN = ("the `sasl.username` and `sasl.password` that `mednet firms add` prints (the cluster's CA, for "
              "ssl.ca.location, from its operator); a firm's login reads and writes its own topics only")
SERVICE_LOGIN = ("the service's own user (`MEDNET_<SERVICE>_KAFKA_SASL_USERNAME` / `_PASSWORD`, `KAFKA_SSL_CAFILE`), "
                 "allowed only what its wiring reads and writes")
CHANNELS = {FIRM_INBOUND: "firmInbound", FIRM_OUTBOUND: "firmOutbound"}
WIRE = """Every record is a CloudEvents 1.0 event in **structured mode** (CloudEvents Kafka protocol binding): the
value is the event's JSON, the header `content-type: application/cloudevents+json`, no `ce_` attribute headers.

* **type** `mednet.<Name>.v<N>`; **data** is typed per type below; **datacontenttype** `application/json`.
* **Key** = the CloudEvent `subject` = the case id (per-case ordering); where a message says otherwise, its
  binding's `key` says what it is (a submission is keyed by the firm's own reference).
"""
FIRM_RULES = """* **Commands** (what you send on `mednet.firm.{firmId}.inbound`): a unique `id` per command (a
  retry repeats it: the same id is handled once), a `source` of your choosing (a URI reference naming your
  system, e.g. `/firms/harbor-law/case-system`), `subject` = the key. Who sent it is the topic (and your SASL
  login), never the payload.
* **Answers**: every event your command causes, directly or down the line, carries `correlationid` = your
  command's `id` (whatever correlationid you sent is replaced): match answers on it. `causationid` on your copy
  is the id of the network's own event it was made from, not your command's. A refused or dead-lettered command
  is answered by CommandRejected with every reason (when dead-lettered, with `dead_letter_topic`); a refused submission by
  CaseRejected.
"""


def documents() -> dict[str, dict[str, Any]]:
    """Each service's document and the firm's ('firm'), from the services' wiring."""
    all_wirings = wirings()
    published = published_on(all_wirings)
    return {**{name: service_document(each, published) for name, each in all_wirings.items()},
            "firm": firm_document(all_wirings)}


def service_document(wiring: Wiring, published: dict[str, set[type[Message]]]) -> dict[str, Any]:
    book = Book()
    channels, operations = {}, {}
    for channel, types in wiring.consumed(published).items():
        groups = wiring.groups(channel)
        name = _channel_id(channel)
        channels[name] = book.channel(channel, types)
        operations[f"receive.{name}"] = book.operation(
            "receive", name, types, f"Handles {', '.join(m.__name__ for m in types)}; commits after the effect",
            {"kafka": {"groupId": {"type": "string", "enum": groups}, **KAFKA}})
    for channel, types in wiring.publishes.items():
        name = _channel_id(channel)
        channels[name] = book.channel(channel, types, outbound=channel == FIRM_OUTBOUND)
        operations[f"send.{name}"] = book.operation("send", name, types, "Through the transactional outbox")
    return book.document(f"mednet {wiring.service}", f"What the {wiring.service} service reads and publishes "
                         "(generated from its app.py).\n\n" + WIRE, channels, operations)


def firm_document(all_wirings: dict[str, Wiring]) -> dict[str, Any]:
    book = Book()
    commands = firm_commands(all_wirings)
    outbound = next(w.publishes[FIRM_OUTBOUND] for w in all_wirings.values() if FIRM_OUTBOUND in w.publishes)
    channels = {"firmInbound": book.channel(FIRM_INBOUND, commands),
                "firmOutbound": book.channel(FIRM_OUTBOUND, outbound, outbound=True),
                "webhook": book.webhook_channel(outbound)}
    operations = {
        "sendCommand": book.operation("send", "firmInbound", commands, "Your commands, on your inbound topic only "
                                      "(your login may write nowhere else)"),
        "receiveEvent": book.operation("receive", "firmOutbound", outbound, "The events about your own cases and "
                                       "sides, projected for you: no other side's data",
                                       {"kafka": {"groupId": {"type": "string", "pattern": GROUPS, "description": (
                                           "A consumer group of your own: its name starts with "
                                           "`mednet.firm.{firmId}.` (your login may use no other)")}, **KAFKA}}),
        "receiveWebhook": book.webhook_operation(),
    }
    return book.document("mednet for firms", "What a firm's system sends to the mediation network and what it "
                         "receives, on its own Kafka topics and by signed webhook. Operations are from the firm's "
                         "side: it sends commands, it receives events.\n\nOnboarding: `mednet firms add <firmId>` "
                         "creates your login, topics and ACLs and prints your connection settings once.\n\n"
                         + WIRE + FIRM_RULES, channels, operations, FIRM_LOGIN)


class Book:
    """The components a document's channels refer to, gathered as they are used."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {"CloudEvent": _envelope()}
        self.messages: dict[str, Any] = {}
        self.webhooks = False

    def channel(self, address: str, types: tuple[type[Message], ...], outbound: bool = False) -> dict[str, Any]:
        channel = {"address": address, "messages": {m.__name__: {"$ref": f"#/components/messages/"
                                                                         f"{self.message(m, outbound)}"}
                                                    for m in types},
                   "servers": [{"$ref": "#/servers/local"}, {"$ref": "#/servers/deployment"}]}
        if "{firmId}" in address:
            channel["parameters"] = {"firmId": {"$ref": "#/components/parameters/firmId"}}
        return channel

    def message(self, model: type[Message], outbound: bool) -> str:
        name = (VIEW if outbound else "") + model.__name__
        if name not in self.messages:
            self.messages[name] = {
                "name": model.__name__, "title": model.type_name(), "summary": _summary(model, outbound),
                "contentType": CONTENT_TYPE, "headers": {"$ref": SCHEMAS + "KafkaHeaders"},
                "payload": {"$ref": SCHEMAS + self.envelope(model, outbound)},
                "correlationId": {"$ref": "#/components/correlationIds/command"},
                "bindings": {"kafka": {"key": {"type": "string", "description": key_of(model)},
                                       **KAFKA}}}
        return name

    def envelope(self, model: type[Message], outbound: bool) -> str:
        prefix = VIEW if outbound else ""
        name = f"{prefix}{model.__name__}.event"
        if name not in self.schemas:
            self.schemas[name] = {"allOf": [{"$ref": SCHEMAS + "CloudEvent"}, {
                "type": "object", "properties": {"type": {"const": model.type_name()},
                                                 "data": {"$ref": SCHEMAS + self.model(model, prefix)}}}]}
        return name

    def model(self, model: type[Message], prefix: str) -> str:
        schema = model.model_json_schema(ref_template=SCHEMAS + prefix + "{model}")
        found = {prefix + name: definition for name, definition in schema.pop("$defs", {}).items()}
        found[prefix + model.__name__] = schema
        if prefix and model in ADDED:
            found[prefix + model.__name__]["properties"].update(ADDED[model])
        for name, definition in found.items():
            definition = _relaxed(definition) if prefix else definition
            if self.schemas.setdefault(name, definition) != definition:
                raise ValueError(f"two different schemas are named {name}")
        return prefix + model.__name__

    def webhook_channel(self, types: tuple[type[Message], ...]) -> dict[str, Any]:
        self.webhooks, most = True, _notify_defaults()["webhook_max_endpoints_per_firm"]
        self.messages["WebhookDelivery"] = {
            "name": "WebhookDelivery", "title": "A signed webhook delivery",
            "summary": "One of your outbound events, as on your outbound topic, POSTed to your endpoint",
            "contentType": CONTENT_TYPE, "headers": {"$ref": SCHEMAS + "WebhookHeaders"},
            "payload": {"oneOf": [{"$ref": SCHEMAS + self.envelope(m, True)} for m in types]},
            "bindings": {"http": {"bindingVersion": "0.3.0"}}}
        return {"address": None, "title": "Your webhook endpoint",
                "description": "The https URL you registered with `POST /v1/webhooks` on the notify service (a "
                               f"public address; at most {most} per firm). Each of your outbound events is POSTed "
                               "to every enabled endpoint of your firm.",
                "messages": {"WebhookDelivery": {"$ref": "#/components/messages/WebhookDelivery"}},
                "servers": [{"$ref": "#/servers/webhookEndpoint"}]}

    def webhook_operation(self) -> dict[str, Any]:
        return {"action": "receive", "channel": {"$ref": "#/channels/webhook"}, "title": "Receive a webhook",
                "description": _webhook_policy(), "bindings": {"http": {"method": "POST", "bindingVersion": "0.3.0"}},
                "messages": [{"$ref": "#/channels/webhook/messages/WebhookDelivery"}]}

    def operation(self, action: str, channel: str, types: tuple[type[Message], ...], description: str,
                  bindings: dict[str, Any] | None = None) -> dict[str, Any]:
        operation = {"action": action, "channel": {"$ref": f"#/channels/{channel}"}, "description": description,
                     "messages": [{"$ref": f"#/channels/{channel}/messages/{m.__name__}"} for m in types]}
        return {**operation, "bindings": bindings} if bindings else operation

    def document(self, title: str, description: str, channels: dict, operations: dict,
                 login: str = "") -> dict[str, Any]:
        login = login or SERVICE_LOGIN
        self.schemas["KafkaHeaders"] = {"type": "object", "required": ["content-type"], "properties": {
            "content-type": {"type": "string", "const": CONTENT_TYPE,
                             "description": "Structured mode: the value is the whole CloudEvent"}}}
        servers = _kafka_servers()
        if self.webhooks:
            self.schemas["WebhookHeaders"] = _webhook_headers()
            servers["webhookEndpoint"] = {
                "host": "{host}", "protocol": "https", "title": "Your webhook endpoint",
                "variables": {"host": {"description": "The host of the URL you registered (a public address)",
                                       "examples": ["hooks.harbor-law.example"]}}}
        return {"asyncapi": VERSION, "info": {"title": title, "version": "1", "description": description},
                "defaultContentType": CONTENT_TYPE, "servers": servers, "channels": channels,
                "operations": operations, "components": {
                    "schemas": self.schemas, "messages": self.messages, "parameters": {"firmId": {
                        "description": f"A firm's id: {FIRM_ID_PATTERN.pattern} (the topic names it; it is never "
                                       "taken from a payload)", "examples": ["harbor-law"]}},
                    "correlationIds": {"command": {
                        "description": "The firm command an event answers or follows from: its CloudEvent id (an "
                                       "event the network started itself carries its own id)",
                        "location": "$message.payload#/correlationid"}},
                    "securitySchemes": {"scram": {
                        "type": "scramSha512", "description": "SASL/SCRAM-SHA-512 over TLS (SASL_SSL), the brokers "
                        "verified with the cluster's CA: " + login}}}}


def key_of(model: type[Message]) -> str:
    """What the record's key (the CloudEvent subject) is: the case id, unless the model's subject() says otherwise
    in its docstring (or KEYS does); an undocumented one stops the export."""
    if model.subject is Message.subject:
        return "The case id (the CloudEvent `subject`)."
    documented = " ".join((model.subject.__doc__ or "").split()) or KEYS.get(model)
    if not documented:
        raise ValueError(f"{model.__name__}.subject() has no docstring saying what its Kafka key is")
    return documented


def _kafka_servers() -> dict[str, Any]:
    return {
        "local": {"host": "127.0.0.1:9092", "protocol": "kafka", "title": "The local stack",
                  "description": "`mednet stack up`: PLAINTEXT, no login (loopback only)"},
        "deployment": {"host": "{bootstrap}", "protocol": "kafka-secure", "title": "A deployment",
                       "description": "SASL_SSL: TLS to the brokers (the cluster's CA) and a SCRAM-SHA-512 login",
                       "variables": {"bootstrap": {"description": "The cluster's bootstrap server (host:port)",
                                                   "examples": ["kafka.mednet.example.org:9093"]}},
                       "security": [{"$ref": "#/components/securitySchemes/scram"}]}}


def _webhook_headers() -> dict[str, Any]:
    return {"type": "object", "required": ["webhook-id", "webhook-timestamp", "webhook-signature", "content-type"],
            "properties": {
                "webhook-id": {"type": "string", "description": "The delivery's id: the same on every retry of it, "
                                                                "so a receiver handles it once"},
                "webhook-timestamp": {"type": "string", "pattern": "^[0-9]+$",
                                      "description": "When it was signed, in seconds since the epoch"},
                "webhook-signature": {"type": "string", "pattern": "^v1,[A-Za-z0-9+/=]+( v1,[A-Za-z0-9+/=]+)*$",
                                      "description": "Standard Webhooks: `v1,` and the base64 HMAC-SHA256, keyed "
                                      "with your secret's bytes, of `{webhook-id}.{webhook-timestamp}.{body}`"},
                "content-type": {"type": "string", "const": CONTENT_TYPE,
                                 "description": "CloudEvents HTTP binding, structured mode"}}}


def _notify_defaults() -> dict[str, Any]:
    import importlib

    settings = importlib.import_module("mednet_notify.config").Settings
    return {name: field.default for name, field in settings.model_fields.items()}


def _webhook_policy() -> str:
    defaults = _notify_defaults()
    return (
        "**Signature** (Standard Webhooks): verify `webhook-signature` with any Standard Webhooks library (e.g. "
        "`standardwebhooks`: `Webhook(secret).verify(body, headers)`) before reading the body, and refuse a "
        "`webhook-timestamp` more than 5 minutes away from your clock.\n\n"
        "**Secret format**: `whsec_` followed by the base64 of 24 random bytes; shown once, in the answer to "
        "`POST /v1/webhooks`.\n\n"
        f"**Retries**: answer 2xx within {defaults['webhook_timeout_seconds']:g} s. Anything else (another status, "
        "a redirect, which is never followed, a timeout, a refused connection) is retried with exponential backoff "
        f"from {defaults['delivery_backoff_seconds']:g} s, doubling up to {defaults['delivery_backoff_max_seconds']:g} "
        f"s, jittered by ±50%, for at most {defaults['delivery_max_attempts']} attempts; then the delivery fails "
        "(NotificationFailed). Your outbound topic still has the event. After "
        f"{defaults['webhook_disable_after']} failed attempts in a row the endpoint is disabled. Deliveries of one "
        "case may arrive out of order and more than once: order by the event's `time`, deduplicate by "
        "`webhook-id` or the event's `id`.")


def _envelope() -> dict[str, Any]:
    schema = CloudEvent.model_json_schema()
    schema["properties"]["data"] = {"type": "object", "description": "Typed per event type"}
    schema["description"] = "CloudEvents 1.0, structured JSON; firmid, correlationid and causationid are extensions"
    return schema


def _relaxed(schema: Any) -> Any:
    """The schema with nothing required and no least number of items: a firm's projection leaves fields out."""
    if isinstance(schema, list):
        return [_relaxed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return {key: _relaxed(value) for key, value in schema.items() if key not in ("required", "minItems")}


def _summary(model: type[Message], outbound: bool) -> str:
    text = " ".join((model.__doc__ or "").split()) if model.__doc__ != Message.__doc__ else ""
    own = "As you receive it: your own sides' fields and entries only. " if outbound else ""
    return (own + text).strip() or model.type_name()


def _channel_id(channel: str) -> str:
    return CHANNELS.get(channel) or channel.removeprefix("mednet.").replace(".events", "Events")
