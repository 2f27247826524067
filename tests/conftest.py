import uuid

import pytest

from infrastructure import Infrastructure, provide
from mednet_shared.platform.mongo import make_client


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


@pytest.fixture
def kafka(infrastructure) -> str:
    return infrastructure.kafka_bootstrap_servers


@pytest.fixture
async def mongo(infrastructure):
    client = make_client(infrastructure.mongodb_url, app_name="mednet-tests")
    yield client
    await client.close()


@pytest.fixture
async def db(mongo, unique):
    database = mongo[f"test_{unique}"]
    yield database
    await mongo.drop_database(database.name)
