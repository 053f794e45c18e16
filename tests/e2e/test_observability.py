"""Health, readiness, metrics (issue 2, section 3) and what the logs must never hold (section 6)."""

from conftest import SECRET, close_all, craft, metric, mint, refused_status, wait_until


def test_healthz_and_readyz_are_200(server):
    assert server.api("GET", "/healthz").status_code == 200
    assert server.api("GET", "/readyz").status_code == 200


def test_metrics_are_prometheus_text_with_the_documented_names(server):
    r = server.api("GET", "/metrics")
    assert r.status_code == 200
    assert r.headers.get("Content-Type", "").startswith("text/plain"), r.headers
    samples = server.metrics()
    names = {n for n, _ in samples}
    for name in [
        "chat_connections",
        "chat_messages_accepted_total",
        "chat_deliveries_total",
        "chat_accept_to_durable_seconds_bucket",
        "chat_accept_to_durable_seconds_sum",
        "chat_accept_to_durable_seconds_count",
    ]:
        assert name in names, f"{name} missing from /metrics"
    assert all(n.startswith("chat_") for n in names), sorted(n for n in names if not n.startswith("chat_"))
    assert any(n == "chat_auth_failures_total" for n, _ in samples) or "chat_auth_failures_total" in r.text
    assert ("chat_accept_to_durable_seconds_bucket", frozenset({("le", "+Inf")})) in samples
    for line in r.text.splitlines():
        if line.startswith("# TYPE chat_accept_to_durable_seconds "):
            assert line.split()[-1] == "histogram"


async def test_metrics_move_with_connections_messages_and_auth_failures(start_server):
    s = start_server()
    a, a_token = s.new_user("met")
    b, b_token = s.new_user("met")
    before = s.metrics()

    sa, rb = await s.connect(a_token), await s.connect(b_token)
    during = s.metrics()
    assert metric(during, "chat_connections") == metric(before, "chat_connections") + 2

    await sa.send_message("m1", b, "counted")
    await sa.sent("m1")
    await rb.expect("message")
    await sa.expect("message")
    after_send = s.metrics()
    assert metric(after_send, "chat_messages_accepted_total") == metric(before, "chat_messages_accepted_total") + 1
    assert metric(after_send, "chat_deliveries_total") > metric(before, "chat_deliveries_total")
    assert metric(after_send, "chat_accept_to_durable_seconds_count") >= \
        metric(before, "chat_accept_to_durable_seconds_count") + 1
    assert metric(after_send, "chat_accept_to_durable_seconds_bucket", le="+Inf") == \
        metric(after_send, "chat_accept_to_durable_seconds_count")

    status, _ = await refused_status(s, mint(a, ttl=-3600))
    assert status == 401
    status, _ = await refused_status(s, mint(a, secret="z" * 64))
    assert status == 401
    after_auth = s.metrics()
    assert metric(after_auth, "chat_auth_failures_total", reason="expired") == \
        metric(before, "chat_auth_failures_total", reason="expired") + 1
    assert metric(after_auth, "chat_auth_failures_total", reason="bad_signature") == \
        metric(before, "chat_auth_failures_total", reason="bad_signature") + 1

    await close_all(sa, rb)
    await wait_until(lambda: metric(s.metrics(), "chat_connections") == metric(before, "chat_connections"),
                     what="chat_connections back to its starting value")


async def test_refused_sends_are_counted_by_their_error_code(start_server):
    # chat_sends_failed_total{code}: one series per WebSocket error code from the start, and each
    # well-formed send answered with an error instead of `sent` counts once under its code.
    s = start_server(args=["--send-rate", "1", "--send-burst", "2"])
    codes = ["bad_request", "unknown_recipient", "rate_limited", "unavailable", "forbidden", "internal"]
    before = s.metrics()
    for code in codes:
        assert ("chat_sends_failed_total", frozenset({("code", code)})) in before, code
    a, a_token = s.new_user("refused")
    b, _ = s.new_user("refused")
    sa = await s.connect(a_token)

    await sa.send_message("to-nobody", "no-such-user-anywhere", "lost?")
    await sa.expect_error("unknown_recipient", "to-nobody")
    n = 4  # the bucket holds one more token, and refills one a second: most of these are refused
    for i in range(n):
        await sa.send_message(f"burst-{i}", b, f"burst {i}")
    outcomes = [await sa.outcome(f"burst-{i}") for i in range(n)]
    refused = [o for o in outcomes if o["type"] == "error"]
    assert refused and all(o["code"] == "rate_limited" for o in refused), outcomes

    after = s.metrics()
    expected = {"unknown_recipient": 1, "rate_limited": len(refused)}
    for code in codes:
        assert metric(after, "chat_sends_failed_total", code=code) == \
            metric(before, "chat_sends_failed_total", code=code) + expected.get(code, 0), code
    assert metric(after, "chat_messages_accepted_total") == \
        metric(before, "chat_messages_accepted_total") + n - len(refused)
    await close_all(sa)


async def test_logs_never_contain_tokens_or_the_secret(start_server):
    s = start_server(args=["--log-level", "debug"])
    a, a_token = s.new_user("log")
    b, b_token = s.new_user("log")
    # Exercise every path a token takes: header, query, refresh, history, and each kind of refusal.
    c1 = await s.connect(a_token)
    c2 = await s.connect(b_token, via="query")
    await c1.send({"type": "refresh", "token": mint(a, ttl=7200)})
    await c1.expect("refreshed")
    await c1.send({"type": "refresh", "token": b_token})
    await c1.expect_error("forbidden")
    await c1.send({"type": "refresh", "token": mint(a, secret="q" * 64)})
    await c1.expect_error("bad_request")
    await c1.send_message("l1", b, "log me not")
    await c1.sent("l1")
    s.api("GET", "/api/message/v1/history", params={"with": b}, headers={"Authorization": f"Bearer {a_token}"})
    s.api("GET", "/api/message/v1/history", params={"with": b},
          headers={"Authorization": f"Bearer {mint(a, ttl=-3600)}"})
    wrong = [
        mint(a, ttl=-3600),
        mint(a, secret="w" * 64),
        mint(a, alg="HS512"),
        craft({"alg": "none"}, {"username": a, "exp": 9999999999}, None),
        mint(a, drop=["exp"]),
        mint(None),
        mint("nobody-" + a),
    ]
    for token in wrong:
        for via in ("header", "query"):
            await refused_status(s, token, via=via)
    await close_all(c1, c2)
    s.terminate()
    text = s.log_text()
    assert [l for l in text.splitlines() if l.strip() and not l.startswith("=====")], "the server logged nothing"
    assert SECRET not in text
    for token in [a_token, b_token] + wrong:
        assert token not in text
        assert token.rsplit(".", 1)[-1] not in text or len(token.rsplit(".", 1)[-1]) < 20
    s.assert_log_clean()  # and every other token minted so far in this run
