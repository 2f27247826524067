"""`mednet console login --mediator <id>`: a one-time sign-in link to the local console, signed by the local
stack's token issuer (a mediator token of ten minutes with a jti the console accepts once)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import jwt
import typer

from .. import fleet
from ..console import console
from ..ops.tokens import ALGORITHM
from ..stack import default_data_dir
from ..tokens import Issuer

console_app = typer.Typer(help="The web console on the local stack.", no_args_is_help=True)


def login_link(data_dir: Path, mediator_id: str, base_url: str | None = None) -> str:
    """The console's one-time sign-in link for the mediator, from the issuer in data_dir."""
    from mednet_console.login import link_claims, login_link as link

    staff = Issuer(data_dir).state["staff"]
    token = jwt.encode(link_claims(mediator_id), jwt.algorithms.ECAlgorithm.from_jwk(staff), ALGORITHM,
                       headers={"kid": staff["kid"]})
    return link(base_url or fleet.console_url(), token)


@console_app.command("login")
def login(mediator: Annotated[str, typer.Option("--mediator", help="The mediator's id, as cases name it")],
          data_dir: Annotated[Path, typer.Option("--data-dir", envvar="MEDNET_DATA_DIR")] = default_data_dir()) -> None:
    """Print a one-time sign-in link for the mediator (valid ten minutes, once)."""
    console.print(login_link(data_dir, mediator), soft_wrap=True)
