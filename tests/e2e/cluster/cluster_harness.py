"""Cluster harness: several real `chat-engine` instances over the real Apache Kafka and PostgreSQL.

The services are the project's own (`scripts/dev-services`); `make test` starts them and sets
CHAT_TEST_DATABASE_URL and CHAT_TEST_KAFKA_BROKERS. Without those variables the cluster tests are
skipped, unless CHAT_REQUIRE_SERVICES=1 (as under `make test`): then they fail.

Each `Cluster` gets a database of its own (created here, dropped afterwards) and a Kafka topic
prefix of its own, so clusters of different tests never see each other's users or records.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import urllib.parse
from pathlib import Path
from typing import Iterable

import pytest

from conftest import REPO_ROOT, Server, require_binary

DATABASE_URL = os.environ.get("CHAT_TEST_DATABASE_URL", "")
KAFKA_BROKERS = os.environ.get("CHAT_TEST_KAFKA_BROKERS", "")
DEV_SERVICES = REPO_ROOT / "scripts" / "dev-services"

# High enough that rate limits never shape a stream these tests send.
FAST = ["--send-rate", "100000", "--send-burst", "100000"]


def require_services() -> None:
    if DATABASE_URL and KAFKA_BROKERS:
        return
    message = "CHAT_TEST_DATABASE_URL and CHAT_TEST_KAFKA_BROKERS are not set (scripts/dev-services start)"
    if os.environ.get("CHAT_REQUIRE_SERVICES") == "1":
        pytest.fail(message + "; CHAT_REQUIRE_SERVICES=1, so the cluster suite fails", pytrace=False)
    pytest.skip(message)


def psql(sql: str, url: str | None = None) -> str:
    """Runs one statement with the psql client against the test server (not through the engine)."""
    out = subprocess.run(
        ["psql", url or DATABASE_URL, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, f"psql failed: {sql}\n{out.stderr}"
    return out.stdout.strip()


def drop_database(name: str) -> None:
    """Drops a test database. WITH (FORCE) cannot end an autovacuum worker for a role that is no
    superuser, so a plain DROP (which stops autovacuum itself) is the fallback."""
    for statement in (f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"DROP DATABASE IF EXISTS {name}"):
        try:
            psql(statement)
            return
        except AssertionError:
            continue
    raise AssertionError(f"test database {name} could not be dropped")


def with_database(url: str, database: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + database))


def services(action: str, which: str) -> None:
    """scripts/dev-services <action> <which>: how the fault tests stop and restart Kafka or PostgreSQL."""
    out = subprocess.run([str(DEV_SERVICES), action, which], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, f"dev-services {action} {which} failed:\n{out.stdout}\n{out.stderr}"


class Cluster:
    """Instances of one cluster: same database, same topic prefix, distinct node ids."""

    def __init__(self, workdir: Path, size: int = 3, args: Iterable[str] = ()):
        require_binary()
        require_services()
        self.workdir = workdir
        self.name = "c" + secrets.token_hex(5)
        psql(f"CREATE DATABASE {self.name}")
        self.database_url = with_database(DATABASE_URL, self.name)
        self.args = list(args)
        self.servers: list[Server] = []
        self._numbers = iter(range(1, 1000))
        for _ in range(size):
            self.add(start=False)

    def add(self, start: bool = True, node_id: str | None = None) -> Server:
        """One more instance (started unless start=False)."""
        number = next(self._numbers)
        node = node_id or f"{self.name}-n{number}"
        s = Server(
            self.workdir,
            args=[
                "--database-url",
                self.database_url,
                "--kafka-brokers",
                KAFKA_BROKERS,
                "--node-id",
                node,
                "--kafka-topic-prefix",
                self.name,
                *FAST,
                *self.args,
            ],
        )
        s.node_id = node
        self.servers.append(s)
        if start:
            s.start()
        return s

    def start(self) -> "Cluster":
        for s in self.servers:
            if not s.running():
                s.spawn()
        for s in self.servers:
            s.wait_ready(timeout=60)
        return self

    def __getitem__(self, i: int) -> Server:
        return self.servers[i]

    def stop(self) -> None:
        for s in self.servers:
            s.stop()
        for s in self.servers:
            s.assert_log_clean()
        drop_database(self.name)

    def sql(self, statement: str) -> str:
        return psql(statement, self.database_url)


@pytest.fixture
def cluster(tmp_path) -> Iterable[Cluster]:
    """Three running instances of one fresh cluster."""
    c = Cluster(tmp_path, 3).start()
    yield c
    c.stop()


@pytest.fixture
def make_cluster(tmp_path):
    """make_cluster(size, args=[...], start=True) -> Cluster, stopped afterwards."""
    made: list[Cluster] = []

    def factory(size: int = 3, args: Iterable[str] = (), start: bool = True) -> Cluster:
        c = Cluster(tmp_path / f"cluster{len(made)}", size, args)
        c.workdir.mkdir(parents=True, exist_ok=True)
        made.append(c)
        return c.start() if start else c

    yield factory
    for c in made:
        c.stop()
