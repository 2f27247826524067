"""`mednet bench`: the pipeline against the raw limit of the same stack (see docs/performance.md)."""

from .run import BenchOptions, run

__all__ = ["BenchOptions", "run"]
