"""Intake on in-memory adapters: its use cases through the handlers and the HTTP API, no Kafka, no MongoDB."""

import pytest
from intake_kit import World


@pytest.fixture
def world() -> World:
    return World()
