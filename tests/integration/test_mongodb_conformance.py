"""The MongoDB guarantees the design relies on, proven against whichever server this run uses.

Only what every MongoDB deployment guarantees: single-document atomicity (a conditional update is a
compare-and-set; $inc and $push lose nothing) and unique indexes. No transactions, no change streams.
"""

import asyncio
import random

from pymongo.errors import DuplicateKeyError

from mednet_shared.platform.mongo import make_client


async def test_conditional_update_is_compare_and_set_for_40_writers_on_two_clients(infrastructure, db):
    second = make_client(infrastructure.mongodb_url, app_name="mednet-tests-second")
    collections = [db["cas"], second[db.name]["cas"]]
    await db["cas"].insert_one({"_id": "doc", "version": 0, "applied": []})
    conflicts = 0

    async def writer(number: int) -> None:
        nonlocal conflicts
        collection = collections[number % 2]
        while True:
            current = await collection.find_one({"_id": "doc"})
            result = await collection.update_one(
                {"_id": "doc", "version": current["version"]},
                {"$set": {"version": current["version"] + 1}, "$push": {"applied": number}},
            )
            if result.modified_count == 1:
                return
            conflicts += 1

    try:
        await asyncio.gather(*(writer(number) for number in range(40)))
    finally:
        await second.close()

    final = await db["cas"].find_one({"_id": "doc"})
    assert final["version"] == 40
    assert sorted(final["applied"]) == list(range(40)), "every successful compare-and-set is applied, none lost"
    assert conflicts > 0, "the writers really raced"


async def test_concurrent_inc_and_push_lose_nothing(infrastructure, db):
    second = make_client(infrastructure.mongodb_url, app_name="mednet-tests-second")
    collections = [db["counters"], second[db.name]["counters"]]
    await db["counters"].insert_one({"_id": "doc", "count": 0, "items": []})

    async def bump(number: int) -> None:
        await collections[number % 2].update_one({"_id": "doc"}, {"$inc": {"count": 1}, "$push": {"items": number}})

    try:
        await asyncio.gather(*(bump(number) for number in range(200)))
    finally:
        await second.close()

    final = await db["counters"].find_one({"_id": "doc"})
    assert final["count"] == 200
    assert sorted(final["items"]) == list(range(200))


async def test_unique_index_admits_exactly_one_of_20_racing_inserts(infrastructure, db):
    second = make_client(infrastructure.mongodb_url, app_name="mednet-tests-second")
    await db["claims"].create_index("key", unique=True)
    collections = [db["claims"], second[db.name]["claims"]]

    async def insert(number: int) -> bool:
        try:
            await collections[number % 2].insert_one({"key": "the-one", "by": number})
            return True
        except DuplicateKeyError:
            return False

    try:
        outcomes = await asyncio.gather(*(insert(number) for number in range(20)))
    finally:
        await second.close()

    assert outcomes.count(True) == 1
    assert await db["claims"].count_documents({"key": "the-one"}) == 1


async def test_unique_id_admits_one_of_20_racing_inserts(db):
    async def insert(number: int) -> bool:
        try:
            await db["ids"].insert_one({"_id": "event-1", "by": number})
            return True
        except DuplicateKeyError:
            return False

    outcomes = await asyncio.gather(*(insert(number) for number in range(20)))
    assert outcomes.count(True) == 1


async def test_a_filter_that_pins_id_still_applies_every_other_condition(db):
    """The local server answers _id-pinned filters from the _id index; the rest of the filter must still hold."""
    collection = db["pinned"]
    await collection.insert_many([{"_id": f"d{n}", "status": "pending" if n % 2 else "sent", "n": n} for n in range(10)])

    refused = await collection.update_one({"_id": "d2", "status": "pending"}, {"$set": {"status": "taken"}})
    taken = await collection.update_one({"_id": "d3", "status": "pending"}, {"$set": {"status": "taken"}})
    found = await collection.find({"_id": {"$in": ["d1", "d2", "d3", "d5", "missing"]}, "status": "pending"},
                                  {"_id": 1}).to_list()
    claimed = await collection.find_one_and_update({"_id": "d5", "n": {"$gte": 6}}, {"$set": {"status": "taken"}})
    removed = await collection.delete_one({"_id": "d7", "status": "sent"})

    assert (refused.matched_count, taken.modified_count) == (0, 1)
    assert sorted(document["_id"] for document in found) == ["d1", "d5"]
    assert claimed is None
    assert removed.deleted_count == 0
    assert await collection.count_documents({"status": "taken"}) == 1


async def test_queries_answered_from_secondary_indexes_find_exactly_the_matching_documents(db):
    """The local server answers equality, $in, ranges and sparse $exists from non-unique indexes; whatever
    answers, every query finds exactly the documents that match it, through inserts, updates and deletes."""
    collection = db["indexed"]
    await collection.insert_many([{"_id": f"early{n}", "status": "pending", "due": n} for n in range(3)])
    await collection.create_index([("status", 1), ("due", 1)])
    await collection.create_index("outbox.id", sparse=True)
    await collection.create_index("firm")
    rng = random.Random(7)
    documents = {f"early{n}": {"_id": f"early{n}", "status": "pending", "due": n} for n in range(3)}

    def made(n: int) -> dict:
        document = {"_id": f"d{n}", "status": rng.choice(["pending", "sending", "sent"]), "due": rng.randint(0, 50),
                    "firm": rng.choice(["a", "b", ["a", "c"], None]),
                    "outbox": [{"id": f"e{n}-{k}"} for k in range(rng.randint(0, 2))]}
        if rng.random() < 0.2:
            del document["due"]
        return document

    for n in range(200):
        document = made(n)
        documents[document["_id"]] = document
        await collection.insert_one(document)
    for n in rng.sample(range(200), 80):
        changed = {**made(n), "_id": f"d{n}"}
        documents[f"d{n}"] = changed
        await collection.replace_one({"_id": f"d{n}"}, changed)
    for n in rng.sample(range(200), 30):
        await collection.update_one({"_id": f"d{n}"}, {"$set": {"outbox": []}})
        documents[f"d{n}"]["outbox"] = []
    for n in rng.sample(range(200), 20):
        await collection.delete_one({"_id": f"d{n}"})
        documents.pop(f"d{n}", None)

    def firm_is(document: dict, firm: str) -> bool:
        value = document.get("firm")
        return value == firm or (isinstance(value, list) and firm in value)

    expectations = [
        ({"status": "pending", "due": {"$lte": 20}},
         lambda d: d["status"] == "pending" and "due" in d and d["due"] <= 20),
        ({"status": "sending", "due": {"$gt": 10, "$lt": 30}},
         lambda d: d["status"] == "sending" and "due" in d and 10 < d["due"] < 30),
        ({"status": {"$in": ["sent", "sending"]}}, lambda d: d["status"] in ("sent", "sending")),
        ({"status": "pending"}, lambda d: d["status"] == "pending"),
        ({"outbox.id": {"$exists": True}}, lambda d: bool(d.get("outbox"))),
        ({"firm": "a"}, lambda d: firm_is(d, "a")),
        ({"firm": "c", "status": "sent"}, lambda d: firm_is(d, "c") and d["status"] == "sent"),
    ]
    for query, matches in expectations:
        found = sorted(document["_id"] for document in await collection.find(query, {"_id": 1}).to_list())
        assert found == sorted(i for i, d in documents.items() if matches(d)), query

    due = await collection.find({"status": "pending", "due": {"$lte": 50}}, {"due": 1}).sort("due", 1).limit(5).to_list()
    assert [document["due"] for document in due] == sorted(
        d["due"] for d in documents.values() if d["status"] == "pending" and "due" in d)[:5]
    moved = await collection.update_many({"status": "sending", "due": {"$lt": 25}}, {"$set": {"status": "pending"}})
    assert moved.modified_count == sum(1 for d in documents.values() if d["status"] == "sending" and d.get("due", 99) < 25)
    assert await collection.count_documents({"status": "sending", "due": {"$lt": 25}}) == 0


async def test_updates_racing_the_servers_own_writes_to_disk_lose_nothing(db):
    """Documents changed over and over while the server persists them (the local server's background writer
    encodes whole pages): the server keeps answering and keeps every field and every writer's last change."""
    collection = db["racing"]
    await collection.insert_many([{"_id": n, **{f"f{k}": k for k in range(3000)}} for n in range(40)])
    deadline = asyncio.get_running_loop().time() + 10
    last: dict[tuple[int, int], int] = {}

    async def writer(number: int) -> None:
        step = 0
        while asyncio.get_running_loop().time() < deadline:
            key = (number + step) % 40
            if step % 2:
                await collection.update_one({"_id": key}, {"$set": {f"w{number}": step, f"x{step % 5}": step}})
                last[(key, number)] = step
            else:
                await collection.update_one({"_id": key}, {"$unset": {f"x{(step + 1) % 5}": ""}})
            step += 1

    await asyncio.gather(*(writer(number) for number in range(8)))
    documents = await collection.find({}).to_list()
    assert len(documents) == 40
    assert all(document["f2999"] == 2999 and len([k for k in document if k.startswith("f")]) == 3000
               for document in documents)
    assert {(document["_id"], int(field[1:])): value for document in documents
            for field, value in document.items() if field.startswith("w")} == last
