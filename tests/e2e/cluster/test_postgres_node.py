"""One instance on PostgreSQL without Kafka (issue 5, section 1): the single-node contract holds with
the shared store, and the inbox outlives the process."""

import secrets

from cluster_harness import DATABASE_URL, FAST, drop_database, psql, require_services, with_database
from conftest import close_all


async def test_one_node_on_postgres_without_kafka_serves_and_keeps_its_inboxes(start_server):
    require_services()
    database = "p" + secrets.token_hex(5)
    psql(f"CREATE DATABASE {database}")
    try:
        s = start_server(args=["--database-url", with_database(DATABASE_URL, database), *FAST])
        alice, alice_token = s.new_user("alice")
        bob, bob_token = s.new_user("bob")
        a = await s.connect(alice_token)
        b1 = await s.connect(bob_token)
        b2 = await s.connect(bob_token)
        assert s.get_user(bob).json()["connections"] == 2
        await a.send_message("m1", bob, "on postgres")
        sent = await a.sent("m1")
        for device in (b1, b2):
            m = await device.expect("message")
            assert (m["seq"], m["msg_id"], m["body"]) == (1, sent["msg_id"], "on postgres")
        await a.send_message("m1", bob, "on postgres")  # a retry is answered as the first time
        again = await a.sent("m1")
        assert (again["msg_id"], again["seq"]) == (sent["msg_id"], sent["seq"])
        await b1.send({"type": "typing", "to": alice})
        await a.expect("typing")
        await close_all(a, b1, b2)

        assert s.terminate() == 0
        s.restart()
        b = await s.connect(bob_token)
        assert b.hello["last_seq"] == 1
        messages, _ = await b.sync(0)
        assert [m["body"] for m in messages] == ["on postgres"]
        # The conversation list and presence, read from PostgreSQL.
        auth = {"Authorization": f"Bearer {bob_token}"}
        r = s.api("GET", "/api/message/v1/conversations", headers=auth)
        assert r.status_code == 200, r.text
        assert [(c["with"], c["last"]["seq"], c["last"]["body"]) for c in r.json()["conversations"]] == [
            (alice, 1, "on postgres")]
        r = s.api("GET", "/api/message/v1/presence", params={"users": f"{alice},{bob},nobody"}, headers=auth)
        assert r.status_code == 200, r.text
        assert [(u["username"], u["connections"]) for u in r.json()["users"]] == [(alice, 0), (bob, 1)]
        await b.close()
        s.stop()
    finally:
        drop_database(database)
