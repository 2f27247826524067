"""Notify's service tests: a fresh in-memory world per test, its dispatcher running."""

import pytest

from notify_world import World


@pytest.fixture
async def world():
    world = World()
    await world.dispatcher.start()
    yield world
    await world.dispatcher.stop(grace_seconds=0.5)
    await world.hooks.aclose()
