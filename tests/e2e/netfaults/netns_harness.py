"""Several hosts on one machine: a network namespace per instance, and faults cut in the network.

Layout of one `NetHost` (the test creates and removes all of it):

    host netns                                     namespace cenf-<run>-<n>
    ----------                                     ------------------------
    127.0.0.1:5432 PostgreSQL  <- relay <- 10.201.k.1:<p> ==veth== 10.201.k.2   chat-engine on :8000
    127.0.0.1:9092 Kafka       <- relay <- 10.201.k.1:<q>            ^ relay <- 127.0.0.1:5432, :9092
    the test's clients  ------------------------------------------>  10.201.k.2:8000

The instance inside the namespace is started with the usual URLs (127.0.0.1:5432, 127.0.0.1:9092, which
is also the address Kafka advertises): inside the namespace those are the namespace's own loopback, where
a relay accepts and connects, *across the veth*, to a relay on the host side, which connects to the real
service. Both relays are plain TCP copies in this process (asyncio, one thread); they never decide a
fault. A fault is an nftables rule in the namespace's own `netdev` table, on the veth's ingress and egress:
matching packets are dropped on the wire, so neither side gets a RST or a FIN, and TCP on both sides sees
silence, as with a pulled cable. Removing the namespace removes its table, its veth and its addresses.

Names are `cenf-<pid>-<n>` (namespaces) and `cenf-<pid>-<n>h` (host-side veths), with the pid of the test
process; `clean_leftovers()` removes those whose process is gone (an earlier run that crashed), and never
touches those of a run still going. Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN for
setns); without it the tests are skipped with the reason.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterable

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cluster"))

from cluster_harness import (  # noqa: E402
    DATABASE_URL, FAST, KAFKA_BROKERS, drop_database, psql, require_services, with_database)
from conftest import BINARY, Server, require_binary  # noqa: E402

PREFIX = "cenf"
RUN = str(os.getpid())  # names carry the pid, so a leftover is known by its dead owner
CLONE_NEWNET = 0x40000000
INSTANCE_PORT = 8000  # a fresh namespace has every port free
_libc = ctypes.CDLL(None, use_errno=True)


def run(*cmd: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, input=input)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr.strip()}")
    return out


def require_netns() -> None:
    """Skip (with the reason) where namespaces cannot be made: not root, or no ip/nft."""
    reason = None
    if os.geteuid() != 0:
        reason = "the network fault tests need root (network namespaces, veth pairs, nftables)"
    elif not shutil.which("ip") or not shutil.which("nft"):
        reason = "the network fault tests need iproute2 (ip) and nftables (nft): scripts/install-deps.sh"
    else:
        probe = f"{PREFIX}-{RUN}-probe"
        if run("ip", "netns", "add", probe, check=False).returncode != 0:
            reason = "`ip netns add` fails here (no network namespace support)"
        else:
            run("ip", "netns", "del", probe, check=False)
    if reason:
        if os.environ.get("CHAT_REQUIRE_NETNS") == "1":
            pytest.fail(reason + "; CHAT_REQUIRE_NETNS=1, so the suite fails", pytrace=False)
        pytest.skip(reason)


def _leftover(name: str) -> bool:
    """A name of ours whose test process is gone."""
    match = re.fullmatch(PREFIX + r"-(\d+)-\d+[hn]?", name)
    return bool(match) and not Path(f"/proc/{match.group(1)}").exists()


def clean_leftovers() -> None:
    """Removes the namespaces and links that an earlier, crashed run left behind."""
    for line in run("ip", "netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if _leftover(name):
            run("ip", "netns", "del", name, check=False)
    for line in run("ip", "-o", "link", "show", check=False).stdout.splitlines():
        parts = line.split(":")
        if len(parts) > 1 and _leftover(parts[1].strip().split("@")[0]):
            run("ip", "link", "del", parts[1].strip().split("@")[0], check=False)


def _free_subnets(count: int) -> list[int]:
    """Third octets k for 10.201.k.0/30 that no route of this machine uses yet."""
    routes = run("ip", "-4", "route", "show", "table", "all").stdout
    free = [k for k in range(1, 255) if f"10.201.{k}." not in routes]
    return [free.pop(secrets.randbelow(len(free))) for _ in range(count)]


# --------------------------------------------------------------------------------------------------
# relays: plain TCP copies, in one event loop on a thread of their own


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def socket_in(netns_path: str | None) -> socket.socket:
    """A TCP socket of the given network namespace (None: this process's). setns changes only the
    calling thread, and a socket stays in the namespace it was made in."""
    if netns_path is None:
        return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(netns_path, os.O_RDONLY)
    try:
        _setns(target)
        try:
            return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)


class Relays:
    """TCP relays (listen in one namespace, connect in another). Thread-safe: every method hands its
    work to the relays' own event loop."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="relays", daemon=True)
        self.thread.start()
        self.servers: list[asyncio.AbstractServer] = []
        self.transports: set[asyncio.BaseTransport] = set()
        self.tasks: set[asyncio.Task] = set()

    def call(self, coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def add(self, listen_ns: str | None, listen: tuple[str, int], connect_ns: str | None,
            target: tuple[str, int]) -> int:
        """Relays connections to `listen` (in listen_ns) to `target` (dialled from connect_ns); returns
        the port listened on (listen[1] may be 0)."""
        return self.call(self._add(listen_ns, listen, connect_ns, target))

    async def _add(self, listen_ns, listen, connect_ns, target) -> int:
        sock = socket_in(listen_ns)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(listen)
        sock.listen(128)
        sock.setblocking(False)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.tasks.add(asyncio.current_task())
            self.transports.add(writer.transport)
            upstream = None
            try:
                up = socket_in(connect_ns)
                up.setblocking(False)
                try:
                    await self.loop.sock_connect(up, target)
                except OSError:
                    up.close()
                    writer.transport.abort()
                    return
                up_reader, up_writer = await asyncio.open_connection(sock=up)
                upstream = up_writer.transport
                self.transports.add(upstream)
                done = await asyncio.gather(_copy(reader, up_writer), _copy(up_reader, writer),
                                            return_exceptions=True)
                if any(isinstance(d, BaseException) for d in done):
                    raise ConnectionError("relay broken")
                writer.close()
                up_writer.close()
            except (OSError, ConnectionError, asyncio.CancelledError):
                writer.transport.abort()
                if upstream is not None:
                    upstream.abort()
            finally:
                self.transports.discard(writer.transport)
                if upstream is not None:
                    self.transports.discard(upstream)
                self.tasks.discard(asyncio.current_task())

        server = await asyncio.start_server(handle, sock=sock)
        self.servers.append(server)
        return sock.getsockname()[1]

    def stop(self) -> None:
        async def _stop():
            for s in self.servers:
                s.close()
            for t in list(self.transports):
                t.abort()
            for t in list(self.tasks):
                t.cancel()
            await asyncio.sleep(0)

        try:
            self.call(_stop(), timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    if writer.can_write_eof():
        writer.write_eof()


# --------------------------------------------------------------------------------------------------
# hosts


class NetHost:
    """One namespace with a veth to the host netns, the service relays, and an nftables table for cuts.
    Owned by one test (through the `net` fixture); `remove()` undoes everything."""

    SERVICES = {"postgres": 5432, "kafka": 9092}

    def __init__(self, number: int, subnet: int, relays: Relays):
        self.name = f"{PREFIX}-{RUN}-{number}"
        self.host_if = f"{self.name}h"  # at most 15 characters: a pid has at most 7 digits
        self.ns_if = f"{self.name}n"
        self.host_addr = f"10.201.{subnet}.1"
        self.addr = f"10.201.{subnet}.2"
        self.netns_path = f"/run/netns/{self.name}"
        self.relay_ports: dict[str, int] = {}  # host-side relay port of each service
        self.relays = relays

    def create(self) -> "NetHost":
        run("ip", "netns", "add", self.name)
        run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if,
            "netns", self.name)
        run("ip", "addr", "add", f"{self.host_addr}/30", "dev", self.host_if)
        run("ip", "link", "set", self.host_if, "up")
        run("ip", "-n", self.name, "addr", "add", f"{self.addr}/30", "dev", self.ns_if)
        run("ip", "-n", self.name, "link", "set", self.ns_if, "up")
        run("ip", "-n", self.name, "link", "set", "lo", "up")
        # The namespace's own table: chains on the veth's ingress and egress, empty until a cut.
        self.nft(f"""
            table netdev cut {{
              chain ingress {{ type filter hook ingress device "{self.ns_if}" priority 0; policy accept; }}
              chain egress {{ type filter hook egress device "{self.ns_if}" priority 0; policy accept; }}
            }}""")
        for service, port in self.SERVICES.items():
            # host side: <host_addr>:<ephemeral> -> 127.0.0.1:<port>; namespace side: 127.0.0.1:<port>
            # inside the namespace -> <host_addr>:<ephemeral>, across the veth.
            relay_port = self.relays.add(None, (self.host_addr, 0), None, ("127.0.0.1", port))
            self.relay_ports[service] = relay_port
            self.relays.add(self.netns_path, ("127.0.0.1", port), self.netns_path,
                            (self.host_addr, relay_port))
        return self

    def remove(self) -> None:
        run("ip", "netns", "del", self.name, check=False)  # takes the veth pair and the table with it
        run("ip", "link", "del", self.host_if, check=False)

    def nft(self, script: str) -> None:
        run("ip", "netns", "exec", self.name, "nft", "-f", "-", input=script)

    def exec(self, *cmd: str) -> str:
        return run("ip", "netns", "exec", self.name, *cmd).stdout

    # ---- faults

    def cut_ports(self, ports: Iterable[int], what: str) -> None:
        """Drops, on the veth, every TCP packet to or from the host side's `ports`."""
        ports_set = ", ".join(str(p) for p in ports)
        self.nft(f"""
            add rule netdev cut egress ip daddr {self.host_addr} tcp dport {{ {ports_set} }} counter drop comment "{what}"
            add rule netdev cut ingress ip saddr {self.host_addr} tcp sport {{ {ports_set} }} counter drop comment "{what}"
            """)

    def cut_services(self, *services: str) -> None:
        """This host loses the network path to the named services (postgres, kafka); its clients still
        reach it."""
        self.cut_ports([self.relay_ports[s] for s in services], "cut " + "+".join(services))

    def cut_client(self, client_port: int) -> None:
        """Every packet of one client connection (its port on the host side) is dropped: the client is
        gone without a FIN or a RST."""
        self.nft(f"""
            add rule netdev cut egress ip daddr {self.host_addr} tcp dport {client_port} counter drop comment "client"
            add rule netdev cut ingress ip saddr {self.host_addr} tcp sport {client_port} counter drop comment "client"
            """)

    def heal(self) -> int:
        """Ends every cut; returns how many packets the cut dropped (the proof it was in the network)."""
        dropped = self.dropped_packets()
        self.nft("flush chain netdev cut ingress\nflush chain netdev cut egress")
        return dropped

    def dropped_packets(self) -> int:
        """Packets the cut rules dropped so far (proof that the fault was in the network)."""
        text = self.exec("nft", "list", "table", "netdev", "cut")
        return sum(int(n) for n in re.findall(r"counter packets (\d+)", text))

    def established(self, port: int, peer_port: int) -> int:
        """Established TCP sockets inside the namespace from local `port` to the peer's `peer_port`."""
        out = self.exec("ss", "-Htn", "state", "established", f"( sport = :{port} and dport = :{peer_port} )")
        return len([line for line in out.splitlines() if line.strip()])


class NsServer(Server):
    """A chat-engine process inside a NetHost's namespace, serving <namespace addr>:8000."""

    def __init__(self, host: NetHost, workdir: Path, **kwargs):
        super().__init__(workdir, **kwargs)
        self.host = host

    def spawn(self) -> subprocess.Popen:
        require_binary()
        self.port = INSTANCE_PORT
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start {self.starts} in {self.host.name}: args {self.args}\n".encode())
            log.flush()
            cmd = ["ip", "netns", "exec", self.host.name, str(BINARY), "--listen",
                   f"{self.host.addr}:{self.port}", "--data-dir", str(self.data_dir), *self.args]
            self.proc = subprocess.Popen(cmd, env=self.env(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, cwd=self.workdir)
        from conftest import _LIVE_SERVERS

        if self not in _LIVE_SERVERS:
            _LIVE_SERVERS.append(self)
        return self.proc

    def url(self, path: str) -> str:
        return f"http://{self.host.addr}:{self.port}{path}"

    def ws_url(self, query: str = "", path: str = "/ws") -> str:
        return f"ws://{self.host.addr}:{self.port}{path}" + (f"?{query}" if query else "")


class Net:
    """The hosts of one test and their relays, and at most one cluster database."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.relays = Relays()
        self.hosts: list[NetHost] = []
        self.servers: list[NsServer] = []
        self.database: str | None = None

    def host(self) -> NetHost:
        [subnet] = _free_subnets(1)
        h = NetHost(len(self.hosts) + 1, subnet, self.relays)
        self.hosts.append(h)
        return h.create()

    def server(self, host: NetHost, args: Iterable[str] = (), start: bool = True) -> NsServer:
        s = NsServer(host, self.workdir, args=list(args))
        self.servers.append(s)
        return s.start() if start else s

    def cluster(self, size: int, args: Iterable[str] = ()) -> list[NsServer]:
        """`size` instances of one new cluster, each on a host of its own, over the real PostgreSQL and
        Kafka reached through the relays: a database and a topic prefix of their own (as
        tests/e2e/cluster does)."""
        require_services()
        self.database = "n" + secrets.token_hex(5)
        psql(f"CREATE DATABASE {self.database}")
        url = with_database(DATABASE_URL, self.database)  # 127.0.0.1:5432: the relay, in a namespace
        servers = []
        for i in range(size):
            host = self.host()
            s = self.server(host, ["--database-url", url, "--kafka-brokers", KAFKA_BROKERS, "--node-id",
                                   f"{self.database}-n{i + 1}", "--kafka-topic-prefix", self.database,
                                   *FAST, *args], start=False)
            s.node_id = f"{self.database}-n{i + 1}"
            s.spawn()
            servers.append(s)
        for s in servers:
            s.wait_ready(timeout=60)
        return servers

    def sql(self, statement: str) -> str:
        return psql(statement, with_database(DATABASE_URL, self.database))

    def close(self) -> None:
        try:
            for h in self.hosts:  # a test that failed mid-cut: let the instances shut down cleanly
                try:
                    h.heal()
                except AssertionError:
                    pass
            for s in self.servers:
                s.stop()
            for s in self.servers:
                s.assert_log_clean()
        finally:
            self.relays.stop()
            for h in self.hosts:
                h.remove()
            if self.database:
                drop_database(self.database)


@pytest.fixture
def net(tmp_path):
    """Namespaces made for this test and removed afterwards, whatever happens."""
    require_binary()
    require_netns()
    clean_leftovers()
    n = Net(tmp_path)
    try:
        yield n
    finally:
        n.close()
