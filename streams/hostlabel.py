"""One ``/metrics`` page over several registries of the same metric names: each sample gets a label.

``mpwatch run`` runs one shipper per host folder, each with its own ``ShipperMetrics`` registry (its
gauges, such as ``lag_bytes``, are per shipper). ``LabelledRegistries`` exports all of them through the
process's registry with a ``host`` label added, so the shipper series keep the names ``mpwatch ship``
serves and stay apart per host.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.registry import Collector


class LabelledRegistries(Collector):
    """Collects ``registries`` (label value -> registry), adding ``label`` to every sample."""

    def __init__(self, registries: Mapping[str, CollectorRegistry], label: str = "host") -> None:
        self.registries = registries
        self.label = label

    def describe(self) -> list[Metric]:
        return []  # collected at scrape time only (names are checked by the source registries)

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        for value, registry in sorted(self.registries.items()):
            for family in registry.collect():
                merged = families.get(family.name)
                if merged is None:
                    merged = families[family.name] = Metric(
                        family.name, family.documentation, family.type, family.unit
                    )
                for sample in family.samples:
                    labels = {self.label: value, **sample.labels}
                    merged.add_sample(sample.name, labels, sample.value, sample.timestamp, sample.exemplar)
        yield from families.values()
