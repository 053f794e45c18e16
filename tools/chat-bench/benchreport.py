"""The pure half of the comparison report (compare.py): statistics over runs, the targets, and the
Markdown tables. No processes, no files: compare.py measures, this module reads its records.

A record is one chat-bench invocation: {"server", "run", "workload", "key", "result" (chat-bench's
JSON line), "gen_cpu_sec", "gen_wall_sec"}. `key` names the measurement ("direct-d1",
"paced-2000", "idle", ...); several records with the same server and key are the runs.
"""
import math
import statistics

# The servers, in the order of every table. chat-engine runs twice: its store on disk and on tmpfs.
SERVERS = ["chat-engine-disk", "chat-engine-tmpfs", "centrifugo", "node-relay"]
REFERENCE = "chat-engine-disk"  # the ratio columns divide by this one
LABELS = {
    "chat-engine-disk": "chat-engine (disk)",
    "chat-engine-tmpfs": "chat-engine (tmpfs)",
    "centrifugo": "Centrifugo",
    "node-relay": "Node.js relay",
}


def spread(values):
    """Median, min and max of the values that are numbers; None when there is none."""
    xs = [v for v in values if isinstance(v, (int, float)) and not math.isnan(v)]
    if not xs:
        return None
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def ratio(a, b):
    """a / b for two spreads (their medians) or numbers; None when either is missing or b is 0."""
    a = a["median"] if isinstance(a, dict) else a
    b = b["median"] if isinstance(b, dict) else b
    if a is None or b is None or b == 0:
        return None
    return a / b


def dig(obj, path):
    """obj["a"]["b"][0]... for a dotted path such as "metrics.delivery_hist.p99_ms"; None if absent."""
    for part in path.split("."):
        if isinstance(obj, list):
            try:
                obj = obj[int(part)]
            except (ValueError, IndexError):
                return None
        elif isinstance(obj, dict):
            obj = obj.get(part)
        else:
            return None
    return obj


def records_for(records, server, key):
    return [r for r in records if r["server"] == server and r["key"] == key]


def metric(records, server, key, path, scale=1.0):
    """The spread over runs of one number of chat-bench's JSON (a dotted path into the record)."""
    vals = []
    for r in records_for(records, server, key):
        v = dig(r, path)
        if isinstance(v, (int, float)):
            vals.append(v * scale)
    return spread(vals)


def step_metric(records, server, conns, field, scale=1.0):
    """The spread over runs of one field of the idle step at `conns` connections."""
    vals = []
    for r in records_for(records, server, "idle"):
        for step in dig(r, "result.metrics.steps") or []:
            if step.get("conns") == conns and isinstance(step.get(field), (int, float)):
                vals.append(step[field] * scale)
    return spread(vals)


def merge_buckets(bucket_lists):
    """Adds histograms given as [[upper_ms, count], ...] lists; returns them sorted by edge."""
    total = {}
    for buckets in bucket_lists:
        for edge, count in buckets or []:
            total[edge] = total.get(edge, 0) + count
    return sorted(total.items())


def cdf(buckets):
    """[(upper_ms, fraction at or below)] of a merged histogram."""
    n = sum(c for _, c in buckets)
    out, seen = [], 0
    for edge, count in buckets:
        seen += count
        out.append((edge, seen / n))
    return out


def fmt_num(x, digits=None):
    if x is None:
        return "–"
    if digits is None:
        ax = abs(x)
        digits = 0 if ax >= 100 else 1 if ax >= 10 else 2
    return f"{x:,.{digits}f}"


def fmt_spread(s, digits=None):
    """"median (min–max)", or the one value when every run agreed or there was one run."""
    if s is None:
        return "–"
    if s["n"] == 1 or s["min"] == s["max"]:
        return fmt_num(s["median"], digits)
    return f"{fmt_num(s['median'], digits)} ({fmt_num(s['min'], digits)}–{fmt_num(s['max'], digits)})"


def fmt_ratio(r):
    return "–" if r is None else f"{r:.2f}×"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# Targets: each compares chat-engine (disk unless stated) with a bound or with Centrifugo. met is
# decided by `good(value)`; nothing here asserts anything, the table only says met or missed.
def targets(records, servers):
    def m(server, key, path, scale=1.0):
        return metric(records, server, key, path, scale)

    ce, cf = "chat-engine-disk", "centrifugo"
    out = []

    def add(name, value, unit, good, detail):
        out.append({"target": name, "value": value, "unit": unit,
                    "met": None if value is None else bool(good(value)), "detail": detail})

    for d in (1, 3):
        path = "result.metrics.deliveries_per_server_cpu_sec"
        a, b = m(ce, f"direct-d{d}", path), m(cf, f"direct-d{d}", path)
        add(f"direct, {d} device(s): durable deliveries per server CPU-second vs Centrifugo ≥ 1×",
            ratio(a, b), "×", lambda r: r >= 1,
            f"chat-engine (disk) {fmt_spread(a)}, Centrifugo {fmt_spread(b)}")
    p99 = "result.metrics.delivery_hist.p99_ms"
    a, b = m(ce, "paced-2000", p99), m(cf, "paced-2000", p99)
    add("paced 2000 msg/s: p99 latency vs Centrifugo ≤ 1×", ratio(a, b), "×", lambda r: r <= 1,
        f"chat-engine (disk) {fmt_spread(a)} ms, Centrifugo {fmt_spread(b)} ms")
    cores = "result.metrics.server_cores"
    a, b = m(ce, "paced-2000", cores), m(cf, "paced-2000", cores)
    add("paced 2000 msg/s: server cores used vs Centrifugo ≤ 1×", ratio(a, b), "×", lambda r: r <= 1,
        f"chat-engine (disk) {fmt_spread(a)} cores, Centrifugo {fmt_spread(b)} cores")
    top = max((s["conns"] for r in records if r["key"] == "idle"
               for s in dig(r, "result.metrics.steps") or []), default=None)
    per_conn = step_metric(records, ce, top, "server_rss_per_conn_bytes", 1 / 1024) if top else None
    add(f"idle: server user-space memory per authenticated connection at {top} ≤ 4 KiB",
        per_conn and per_conn["median"], "KiB", lambda v: v <= 4,
        f"chat-engine (disk) {fmt_spread(per_conn)} KiB (RSS growth / connections)")
    hs = "result.metrics.handshakes_per_server_cpu_sec"
    a, b = m(ce, "connect", hs), m(cf, "connect", hs)
    add("connect: handshakes per server CPU-second vs Centrifugo ≥ 2×", ratio(a, b), "×", lambda r: r >= 2,
        f"chat-engine (disk) {fmt_spread(a)}, Centrifugo {fmt_spread(b)}")
    lo, hi = cpu_per_delivery(records, ce, "low"), cpu_per_delivery(records, ce, "high")
    add("server CPU per delivery, many vs few connected users, within 20%", ratio(hi, lo), "×",
        lambda r: abs(r - 1) <= 0.2,
        f"chat-engine (disk) {fmt_spread(lo)} µs at few, {fmt_spread(hi)} µs at many")
    return out


def cpu_per_delivery(records, server, which):
    """µs of server CPU per delivery of direct 1 device with few ("low": the traffic slot's
    background users) or many ("high": the idle slot's top step) users connected."""
    key = "direct-d1" if which == "low" else "direct-d1-loaded"
    vals = []
    for r in records_for(records, server, key):
        cpu, n = dig(r, "result.metrics.server_cpu_sec"), dig(r, "result.metrics.deliveries")
        if cpu is not None and n:
            vals.append(1e6 * cpu / n)
    return spread(vals)


def targets_table(tgts):
    rows = []
    for t in tgts:
        v = "–" if t["value"] is None else f"{t['value']:.2f}{' ' if t['unit'] != '×' else ''}{t['unit']}"
        met = "not measured" if t["met"] is None else ("met" if t["met"] else "missed")
        rows.append([t["target"], v, met, t["detail"]])
    return table(["Target", "Measured", "Met?", "Figures (median, min–max over runs)"], rows)
