"""The local stack as the operator commands' default: its cluster, its issuer and its firms registry, all from
its data directory."""

from __future__ import annotations

from pathlib import Path

from .. import firms, kafka_acls
from ..ops.cluster import Cluster
from ..stack import Stack, default_data_dir
from ..tokens import Issuer


class LocalStack:
    def _dir(self, data_dir: Path | None) -> Path:
        return Stack(data_dir or default_data_dir()).data_dir

    def cluster(self, data_dir: Path | None) -> Cluster:
        return kafka_acls.cluster(Stack(data_dir or default_data_dir()))

    def issuer(self, data_dir: Path | None) -> Issuer:
        return Issuer(self._dir(data_dir))

    def registry_file(self, data_dir: Path | None) -> Path:
        return firms.registry_file(self._dir(data_dir))
