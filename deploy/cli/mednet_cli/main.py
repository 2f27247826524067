"""mednet: the operator commands (any cluster) and the dev commands (the local stack), as one `mednet`."""

from __future__ import annotations

import typer

from .dev import commands as dev
from .dev.local import LocalStack
from .ops import commands as ops

app = typer.Typer(help="mednet: pre-mediation calls across firms, on Kafka and MongoDB.", no_args_is_help=True)
ops.LOCAL = LocalStack()
dev.register(app)
ops.register(app)
