"""Writes of concurrent callers sent together: every write applied, each caller told of its own outcome."""

import asyncio

from pymongo import AsyncMongoClient, UpdateOne, monitoring
from pymongo.errors import BulkWriteError

from mednet_shared.platform.mongo import GroupWriter


class UpdateCommands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.count = 0

    def started(self, event) -> None:
        self.count += event.command_name == "update"

    def succeeded(self, event) -> None:
        pass

    def failed(self, event) -> None:
        pass


async def test_concurrent_writes_go_together_and_each_caller_waits_for_its_own(infrastructure, unique):
    commands = UpdateCommands()
    client = AsyncMongoClient(infrastructure.mongodb_url, event_listeners=[commands])
    collection = client[f"test_{unique}"]["jobs"]
    try:
        await collection.insert_many([{"_id": n, "status": "sending"} for n in range(60)])
        writer = GroupWriter(collection)
        await asyncio.gather(*(writer.update(UpdateOne({"_id": n}, {"$set": {"status": "sent", "n": n}}))
                               for n in range(60)))
        assert await collection.count_documents({"status": "sent"}) == 60
        assert commands.count < 60, "writes that arrived while one was on its way went in one bulk write"

        outcomes = await asyncio.gather(
            writer.update(UpdateOne({"_id": 1}, {"$set": {"late": True}})),
            writer.update(UpdateOne({"_id": 2}, {"$set": {"x": 1}, "$unset": {"x": ""}})),
            writer.update(UpdateOne({"_id": 3}, {"$set": {"late": True}})),
            return_exceptions=True)
        assert outcomes[0] is None and outcomes[2] is None
        assert isinstance(outcomes[1], BulkWriteError), "only the caller whose write failed hears of it"
        assert await collection.count_documents({"late": True}) == 2
    finally:
        await client.drop_database(f"test_{unique}")
        await client.close()
