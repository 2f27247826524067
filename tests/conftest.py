import os
import uuid

import pytest

from infrastructure import Infrastructure, provide


@pytest.fixture(scope="session")
def infrastructure() -> Infrastructure:
    with provide() as provided:
        print(f"\n[infrastructure] Kafka {provided.kafka_bootstrap_servers}, MongoDB {provided.mongodb_url} "
              f"({provided.origin})")
        yield provided


@pytest.fixture
def unique() -> str:
    """A short unique suffix so topics, groups and databases of one test never meet another's."""
    return uuid.uuid4().hex[:10]
