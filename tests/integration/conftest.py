import pytest

from mednet_shared.platform.mongo import make_client


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
