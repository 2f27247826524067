"""Reads, inserts and writes of concurrent callers sent together: each caller gets exactly its own documents and
outcomes."""

import asyncio

import pytest
from pymongo import AsyncMongoClient, UpdateOne, monitoring
from pymongo.errors import BulkWriteError

from mednet_shared.platform.mongo import GroupInserter, GroupReader, GroupWriter


class Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event) -> None:
        pass

    def failed(self, event) -> None:
        pass


@pytest.fixture
async def database(infrastructure, unique):
    """A database of its own, and the names of the commands sent to it."""
    commands = Commands()
    client = AsyncMongoClient(infrastructure.mongodb_url, event_listeners=[commands])
    try:
        yield client[f"test_{unique}"], commands
    finally:
        await client.drop_database(f"test_{unique}")
        await client.close()


async def test_concurrent_reads_go_together_and_each_caller_gets_only_its_own(database):
    db, commands = database
    collection = db["endpoints"]
    await collection.insert_many([{"_id": f"ep-{n}", "firm_id": f"firm-{n % 5}", "enabled": n % 7 != 0}
                                  for n in range(40)])
    by_id, by_firm = GroupReader(collection), GroupReader(collection, "firm_id", {"enabled": True})
    commands.names.clear()
    one = await asyncio.gather(*(by_id.one(f"ep-{n}") for n in range(45)))
    firms = await asyncio.gather(*(by_firm.all([f"firm-{n}"]) for n in range(6)))
    assert [found["_id"] if found else None for found in one] == [f"ep-{n}" for n in range(40)] + [None] * 5
    for n, found in enumerate(firms):
        expected = sorted(f"ep-{k}" for k in range(40) if k % 5 == n and k % 7 != 0)
        assert sorted(document["_id"] for document in found) == expected, f"firm-{n} got only its own"
    assert commands.names.count("find") <= 4, commands.names

    first, second = await asyncio.gather(by_id.one("ep-1"), by_id.one("ep-1"))
    first["url"] = "changed by the first caller"
    assert "url" not in second, "two callers of one document get documents of their own"

    await collection.update_one({"_id": "ep-2"}, {"$set": {"enabled": False}})
    assert "ep-2" not in {document["_id"] for document in await by_firm.all(["firm-2"])}, \
        "a read asked for after a write sees it"


async def test_concurrent_inserts_go_together_and_a_duplicate_is_only_its_callers(database):
    db, commands = database
    collection = db["jobs"]
    await collection.insert_one({"_id": "job-3b"})
    inserter = GroupInserter(collection)
    commands.names.clear()
    outcomes = await asyncio.gather(*(inserter.insert([{"_id": f"job-{n}a"}, {"_id": f"job-{n}b"}])
                                      for n in range(30)))
    assert outcomes[3] == [True, False], "the existing document is this caller's duplicate, and no error"
    assert all(outcome == [True, True] for n, outcome in enumerate(outcomes) if n != 3)
    assert await collection.count_documents({}) == 60
    assert commands.names.count("insert") < 30, commands.names


async def test_concurrent_writes_go_together_and_each_caller_waits_for_its_own(database):
    db, commands = database
    collection = db["jobs"]
    await collection.insert_many([{"_id": n, "status": "sending"} for n in range(60)])
    writer = GroupWriter(collection)
    await asyncio.gather(*(writer.update(UpdateOne({"_id": n}, {"$set": {"status": "sent", "n": n}}))
                           for n in range(60)))
    assert await collection.count_documents({"status": "sent"}) == 60
    assert commands.names.count("update") < 60, "writes that arrived while one was on its way went in one bulk write"

    outcomes = await asyncio.gather(
        writer.update(UpdateOne({"_id": 1}, {"$set": {"late": True}})),
        writer.update(UpdateOne({"_id": 2}, {"$set": {"x": 1}, "$unset": {"x": ""}})),
        writer.update(UpdateOne({"_id": 3}, {"$set": {"late": True}})),
        return_exceptions=True)
    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], BulkWriteError), "only the caller whose write failed hears of it"
    assert await collection.count_documents({"late": True}) == 2
