"""The CLI's console and its one way to fail."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

console = Console()


def fail(error: Exception) -> NoReturn:
    console.print(f"[bold red]error:[/] {error}")
    raise typer.Exit(1)
