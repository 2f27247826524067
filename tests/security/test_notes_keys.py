"""Notes on real MongoDB: each case's notes under its own data key; tampered or moved ciphertext does not open;
`mednet notes purge --case` crypto-shreds one case while the others stay readable; reads are audited."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from mednet_cli import fleet
from mednet_cli.main import app as cli
from mednet_shared.platform.auth import Role
from serving import serving
from services_harness import client, running, settings_for

pytestmark = pytest.mark.timeout(300)


async def test_one_case_is_purged_the_others_stay_readable_tampering_fails_and_reads_are_audited(
    infrastructure, unique, tmp_path
):
    mediator = f"med-{unique}"
    cases = [f"case-{unique}-{n}" for n in (1, 2, 3)]
    calls = [f"{case}:p1" for case in cases]
    jwks_url = fleet.local_secrets(tmp_path)["MEDNET_JWT_JWKS_URL"]
    settings = settings_for("notes", infrastructure, unique, jwt_jwks_url=jwks_url)
    async with running("notes", settings) as notes_app:
        notes = notes_app.state.notes
        for case, call in zip(cases, calls):
            await notes.learn_case(case, mediator, 1, [])
            await notes.learn_call(case, call, "p1", mediator, "scheduled")
        async with client(notes_app, Role.MEDIATOR, mediator_id=mediator) as the_mediator:
            for n, call in enumerate(calls):
                saved = await the_mediator.put(f"/v1/calls/{call}/notes",
                                               json={"observations": {"concerns": f"secret-{n}"}})
                assert saved.status_code == 200, saved.text

            stored = notes.store.notes
            sealed = (await stored.find_one({"_id": calls[2]}))["sealed"]
            altered = bytearray(sealed["ciphertext"])
            altered[3] ^= 0x01
            await stored.update_one({"_id": calls[2]}, {"$set": {"sealed.ciphertext": bytes(altered)}})
            tampered = await the_mediator.get(f"/v1/calls/{calls[2]}/notes")
            assert tampered.status_code == 500 and "integrity check failed" in tampered.json()["detail"]
            moved = (await stored.find_one({"_id": calls[1]}))["sealed"]
            await stored.update_one({"_id": calls[2]}, {"$set": {"sealed": moved}})
            assert (await the_mediator.get(f"/v1/calls/{calls[2]}/notes")).status_code == 500, "another case's note"
            assert (await the_mediator.get(f"/v1/calls/{calls[1]}/notes")).json()["observations"]["concerns"] \
                == "secret-1"

            async with client(notes_app, Role.FIRM, firm_id=f"firm-{unique}") as firm:
                assert (await firm.post(f"/v1/cases/{cases[0]}/notes/purge")).status_code == 403
                assert (await firm.get("/v1/audit")).status_code == 403
            async with serving(notes_app) as url:
                result = await asyncio.to_thread(
                    CliRunner().invoke, cli,
                    ["notes", "purge", "--case", cases[0], "--notes-url", url, "--data-dir", str(tmp_path), "--yes"])
            assert result.exit_code == 0, result.output
            assert f"purged case {cases[0]}" in " ".join(result.output.split())
            assert "1 sealed note(s) can no longer be read" in " ".join(result.output.split())

            gone = await the_mediator.get(f"/v1/calls/{calls[0]}/notes")
            assert gone.status_code == 410 and "purged" in gone.json()["detail"]
            assert "secret-0" not in gone.text
            refused = await the_mediator.put(f"/v1/calls/{calls[0]}/notes", json={"observations": {"concerns": "x"}})
            assert refused.status_code == 409 and "purged" in refused.json()["detail"]
            still = await the_mediator.get(f"/v1/calls/{calls[1]}/notes")
            assert still.status_code == 200 and still.json()["observations"]["concerns"] == "secret-1"

        key = await notes.store.case_key(cases[0])
        assert "wrapped_key" not in key and "master_key_id" not in key and key["purged_at"]
        assert "wrapped_key" in await notes.store.case_key(cases[1])

        async with client(notes_app, Role.OPERATOR) as operator:
            entries = (await operator.get("/v1/audit", params={"action": "GET /v1/calls/{call_id}/notes"})).json()
            purges = (await operator.get("/v1/audit",
                                         params={"action": "POST /v1/cases/{case_id}/notes/purge"})).json()
        reads = {(e["resource"]["call_id"], e["outcome"], e["status"]) for e in entries
                 if e["who"]["mediator_id"] == mediator}
        assert (calls[1], "allowed", 200) in reads and (calls[0], "failed", 410) in reads
        assert all(e["correlation_id"] and e["at"] and e["who"]["role"] == "mediator" for e in entries)
        assert [(e["who"]["subject"], e["outcome"]) for e in purges if e["resource"]["case_id"] == cases[0]] == [
            ("mednet-cli", "allowed"), (f"firm-{unique}", "denied")]


async def test_a_new_master_key_rewraps_every_case_key_and_the_old_one_can_then_be_dropped(infrastructure, unique):
    import json

    from mednet_notes.crypto import generate_key
    from mednet_notes.envelope import MasterKeys

    old, new = generate_key(), generate_key()
    mediator, case = f"med-{unique}", f"case-{unique}"
    settings = settings_for("notes", infrastructure, unique, master_keys=json.dumps({"m1": old}), master_key_id="m1")
    async with running("notes", settings) as notes_app:
        notes = notes_app.state.notes
        await notes.learn_case(case, mediator, 1, [])
        await notes.learn_call(case, f"{case}:p1", "p1", mediator, "scheduled")
        async with client(notes_app, Role.MEDIATOR, mediator_id=mediator) as the_mediator:
            saved = await the_mediator.put(f"/v1/calls/{case}:p1/notes", json={"observations": {"concerns": "kept"}})
            assert saved.status_code == 200
            assert (await notes.store.case_key(case))["master_key_id"] == "m1"

            notes.master_keys = MasterKeys.parse(json.dumps({"m1": old, "m2": new}), "m2")
            async with client(notes_app, Role.OPERATOR) as operator:
                assert (await operator.post("/v1/notes/keys/rewrap")).json() == {"master_key_id": "m2", "rewrapped": 1}
                assert (await operator.post("/v1/notes/keys/rewrap")).json()["rewrapped"] == 0
            assert (await notes.store.case_key(case))["master_key_id"] == "m2"

            notes.master_keys = MasterKeys.parse(json.dumps({"m2": new}), "m2")
            read = await the_mediator.get(f"/v1/calls/{case}:p1/notes")
            assert read.status_code == 200 and read.json()["observations"]["concerns"] == "kept"


async def test_notes_sealed_before_envelope_encryption_are_read_then_resealed_and_purged_by_deletion(
    infrastructure, unique
):
    from mednet_notes.crypto import NoteSealer, decoded_key
    from services_harness import TEST_NOTES_KEY

    mediator = f"med-{unique}"
    old_sealer = NoteSealer(decoded_key(TEST_NOTES_KEY), "k1")
    async with running("notes", settings_for("notes", infrastructure, unique)) as notes_app:
        notes = notes_app.state.notes
        for case in (f"case-{unique}-a", f"case-{unique}-b"):
            await notes.learn_case(case, mediator, 1, [])
            await notes.learn_call(case, f"{case}:p1", "p1", mediator, "scheduled")
            legacy = old_sealer.seal(b'{"concerns": "from before"}', case_id=case, call_id=f"{case}:p1")
            await notes.store.save_note(f"{case}:p1", case, "p1", legacy)
        async with client(notes_app, Role.MEDIATOR, mediator_id=mediator) as the_mediator:
            read = await the_mediator.get(f"/v1/calls/case-{unique}-a:p1/notes")
            assert read.status_code == 200 and read.json()["observations"]["concerns"] == "from before"
        resealed = (await notes.store.note(f"case-{unique}-a:p1"))["sealed"]
        assert resealed["key_id"] == "case-data-key"
        async with client(notes_app, Role.OPERATOR) as operator:
            purged = (await operator.post(f"/v1/cases/case-{unique}-b/notes/purge")).json()
        assert purged["deleted_legacy_notes"] == 1 and purged["unreadable_notes"] == 0
        assert await notes.store.note(f"case-{unique}-b:p1") is None
