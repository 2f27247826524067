"""Reading a /metrics page: every sample by name and labels, and sums over the samples that match some labels."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset], float]


def parse(text: str) -> Samples:
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def matching(samples: Samples, name: str, **labels: str) -> list[float]:
    wanted = set(labels.items())
    return [value for (sample, sample_labels), value in samples.items() if sample == name and wanted <= sample_labels]


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(matching(samples, name, **labels))


def increase(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return total(after, name, **labels) - total(before, name, **labels)
