"""A service app on a real port, served by the test's own event loop (where its MongoDB client lives)."""

from __future__ import annotations

import asyncio
import contextlib

import uvicorn

from mednet_cli.processes import free_port


@contextlib.asynccontextmanager
async def serving(app):
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), lifespan="off",
                                           log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        await task
