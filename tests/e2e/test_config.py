"""Configuration seen from outside (issue 2, sections 1 and 2): --help, the JWT secret's sources,
flags as environment variables."""

import re
import stat
import subprocess

import jwt as pyjwt
import pytest

from conftest import BINARY, SECRET, mint, refused_status, remember, require_binary

FLAGS = [
    "--listen", "--data-dir", "--allowed-origins", "--threads", "--node-id", "--max-message-bytes",
    "--send-rate", "--send-burst", "--max-connections-per-user", "--max-outbound-bytes",
    "--handshake-timeout", "--idle-timeout", "--ping-interval", "--jwt-leeway", "--shutdown-timeout",
    "--log-level", "--database-url", "--kafka-brokers", "--kafka-topic-prefix",
]


def test_help_lists_every_option():
    require_binary()
    r = subprocess.run([str(BINARY), "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    text = r.stdout + r.stderr
    missing = [f for f in FLAGS if f not in text]
    assert not missing, f"--help does not mention {missing}"


@pytest.mark.parametrize("secret", ["tiny-secret-9f1c", "s3cr3t-" + "q" * 24], ids=["16-bytes", "31-bytes"])
def test_short_secret_is_refused_at_startup(start_server, secret):
    s = start_server(start=False, secret=secret)
    proc = s.spawn()
    code = proc.wait(10)
    assert code != 0
    log = s.log_text().lower()
    assert "secret" in log and "32" in log, s.log_tail()


def test_generated_secret_file_is_0600_with_64_hex_characters(start_server):
    s = start_server(secret=None)
    path = s.data_dir / "jwt-secret"
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_text().rstrip("\n")
    assert re.fullmatch(r"[0-9a-f]{64}", key), key


async def test_generated_secret_signs_accepted_tokens_and_survives_restart(start_server):
    s = start_server(secret=None)
    key = (s.data_dir / "jwt-secret").read_text().rstrip("\n")
    name, _ = s.new_user("gen")
    token = remember(pyjwt.encode({"username": name, "exp": 9_999_999_999}, key, algorithm="HS256"))
    client = await s.connect(token)
    await client.close()
    assert s.terminate() == 0
    s.restart()
    assert (s.data_dir / "jwt-secret").read_text().rstrip("\n") == key, "the secret was regenerated"
    client = await s.connect(token)
    await client.close()
    status, _ = await refused_status(s, mint(name))  # signed with the suite's secret, not this one
    assert status == 401


async def test_secret_file_env_wins_over_secret_env(start_server, tmp_path):
    key = "from-the-file-" + "k" * 50
    secret_file = tmp_path / "secret"
    secret_file.write_text(key + "\n")
    s = start_server(env={"CHAT_JWT_SECRET_FILE": str(secret_file)})  # CHAT_JWT_SECRET is set too
    name, _ = s.new_user("file")
    client = await s.connect(mint(name, secret=key))
    await client.close()
    status, _ = await refused_status(s, mint(name, secret=SECRET))
    assert status == 401
    status, _ = await refused_status(s, mint(name, secret=key + "\n"))
    assert status == 401, "the trailing newline is not part of the key"


async def test_flags_as_environment_variables(start_server):
    s = start_server(env={"CHAT_NODE_ID": "env-node", "CHAT_MAX_MESSAGE_BYTES": "1024"})
    name, token = s.new_user("env")
    client = await s.connect(token)
    assert client.hello["node"] == "env-node"
    await client.send_message("big", name, "b" * 1100)
    assert await client.wait_closed() == 1009


async def test_listen_and_data_dir_from_environment(start_server, tmp_path):
    # The harness passes --listen/--data-dir as flags; here the environment alone configures them.
    from conftest import free_port, http, wait_until_sync
    port = free_port()
    data_dir = tmp_path / "envdata"
    s = start_server(start=False, env={"CHAT_LISTEN": f"127.0.0.1:{port}", "CHAT_DATA_DIR": str(data_dir)})
    log = open(s.log_path, "ab")
    proc = subprocess.Popen([str(BINARY)], env=s.env(), stdout=log, stderr=log, cwd=tmp_path)
    log.close()
    s.proc, s.port = proc, port
    try:
        wait_until_sync(lambda: _ready(http(), port), timeout=20, what="ready via CHAT_LISTEN")
        assert data_dir.exists() and any(data_dir.iterdir()), "nothing stored under CHAT_DATA_DIR"
    finally:
        s.stop()


def _ready(session, port):
    try:
        return session.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    except Exception:
        return False


def test_chat_help_in_the_environment_does_not_replace_serving(start_server):
    # Only real options map from CHAT_* variables; CHAT_HELP must not turn the server into --help.
    s = start_server(env={"CHAT_HELP": "1"})
    assert s.api("GET", "/healthz").status_code == 200


@pytest.mark.parametrize(
    "args, says",
    [
        (["--kafka-brokers", "127.0.0.1:9092"], "--database-url"),
        (["--database-url", "mysql://x@127.0.0.1/chat"], "postgresql://"),
        (["--kafka-topic-prefix", ""], "prefix"),
    ],
    ids=["kafka-without-a-database", "not-a-postgresql-url", "empty-topic-prefix"],
)
def test_cluster_options_that_cannot_work_are_refused_at_startup(start_server, args, says):
    s = start_server(args=args, start=False)
    proc = s.spawn()
    assert proc.wait(10) == 2
    assert says in s.log_text(), s.log_tail()


def test_an_unreachable_database_stops_the_start_with_a_clear_message(start_server):
    s = start_server(args=["--database-url", "postgresql://chat:chat@127.0.0.1:1/chat"], start=False)
    proc = s.spawn()
    assert proc.wait(20) == 1
    log = s.log_text()
    assert "store" in log and "127.0.0.1" in log, s.log_tail()


def test_a_data_dir_of_the_former_sqlite_store_is_refused_at_startup(start_server):
    # The single-node store moved from SQLite (data-dir/chat.db) to RocksDB: an old data dir is not
    # silently ignored, which would look like every user and message had vanished.
    s = start_server(start=False)
    (s.data_dir / "chat.db").write_bytes(b"SQLite format 3\0")
    proc = s.spawn()
    assert proc.wait(10) == 2
    assert "chat.db" in s.log_text() and "format" in s.log_text(), s.log_tail()
    assert not (s.data_dir / "rocksdb").exists()


async def test_the_store_files_are_for_the_nodes_user_only(start_server):
    s = start_server()
    s.new_user("perm")
    store = s.data_dir / "rocksdb"
    assert store.is_dir()
    for path in [store, *store.iterdir()]:
        assert path.stat().st_mode & 0o077 == 0, f"{path} is open to others"
