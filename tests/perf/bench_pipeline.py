"""The pipeline benchmark (the same code as `mednet bench`): prints its figures, saves bench.json and latency.png.

    python tests/perf/bench_pipeline.py [--cases 200] [--parties 2/4] [--out DIR] [--quick]

It starts its own Kafka and MongoDB-wire server on free ports unless KAFKA_BOOTSTRAP_SERVERS and MONGODB_URL
are set. What it measures: docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console

from mednet_cli.bench import BenchOptions, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=None, help="cases per phase (200; 8 with --quick)")
    parser.add_argument("--parties", default="2/4", help="parties per case, alternating (2/4, 2 or 4)")
    parser.add_argument("--out", type=Path, default=Path.home() / ".cache" / "mednet" / "bench", help="where the JSON and PNG go")
    parser.add_argument("--quick", action="store_true", help="a few cases, to check the bench itself")
    arguments = parser.parse_args()
    options = BenchOptions(arguments.cases or (8 if arguments.quick else 200), arguments.parties, arguments.out,
                           arguments.quick, os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("MONGODB_URL"))
    run(options, Console())


if __name__ == "__main__":
    main()
