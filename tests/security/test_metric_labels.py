"""A firm-chosen event type never becomes a metric label: 2,000 random types on a firm's inbound topic, read by
intake (strict: dead-lettered) and scheduling (ignored), add at most one series to the metrics (after a first one,
and once the consumer lag of the test's groups, measured every few seconds, is there)."""

import random
import string

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kafka_helpers import as_record, command, new_topic, produce, read, wait_for
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.metrics import KNOWN_TYPES
from services_harness import services


def series() -> set[tuple[str, frozenset]]:
    """Every series (a metric and its labels, a histogram's buckets together) of the services in this process,
    except those of the catalog's types: the shared topics may carry other tests' events meanwhile."""
    return {(family.name, frozenset((k, v) for k, v in sample.labels.items() if k != "le"))
            for family in text_string_to_metric_families(generate_latest(REGISTRY).decode())
            for sample in family.samples if sample.labels.get("type") not in KNOWN_TYPES}


def random_types(count: int) -> list[str]:
    return [f"mednet.{''.join(random.choices(string.ascii_letters, k=12))}.v{random.randint(1, 99)}"
            for _ in range(count)]


async def test_two_thousand_random_event_types_add_at_most_one_series(infrastructure, kafka, unique):
    inbound = await new_topic(kafka, Topics.firm_inbound(f"m-{unique}"))
    dead_letters = Topics.dead_letter(inbound)
    async with services(infrastructure, unique, "intake", "scheduling"):
        await produce(kafka, inbound, [as_record(command({"x": 1}, kind)) for kind in random_types(1)])
        assert len(await read(kafka, dead_letters, 1, timeout=20)) == 1
        groups = {f"t-{unique}-intake", f"t-{unique}-scheduling", f"t-{unique}-scheduling-firm-commands"}
        await wait_for(lambda: groups <= {dict(labels).get("group") for name, labels in series()
                                          if name == "mednet_consumer_lag"}, timeout=20, interval=0.5)
        before = series()
        await produce(kafka, inbound, [as_record(command({"x": 1}, kind)) for kind in random_types(2000)])
        assert len(await read(kafka, dead_letters, 2001, timeout=60)) == 2001
        after = series()
        added = after - before
        assert len(added) <= 1, f"{len(added)} new series, e.g. {sorted(added)[:3]}"
        assert {dict(labels).get("type") for _, labels in after} <= {None, "other", "unknown"}
