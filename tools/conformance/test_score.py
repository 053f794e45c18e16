"""Tests of score.py on canned fragments of Autobahn reports (the fields it reads, as wstest
0.8.2 writes them). Run: python3 -m pytest tools/conformance -q"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import score  # noqa: E402

HELLO = ["message", json.dumps({"type": "hello", "user": "autobahn", "last_seq": 0}), False]
ERROR = ["message", json.dumps({"type": "error", "code": "bad_request", "message": "not JSON"}), False]
BINARY_ERROR = ["message", "binary frames are not supported", False]
ECHO = ["message", "Hello, world!", False]
# As the reports hold them: a payload over 64 characters is cut and " ..." appended.
CUT_HELLO = ["message", '{"type":"hello","user":"autobahn","connection_id":"8d3e62c459dad ...', False]
CUT_ERROR = ["message", '{"type":"error","code":"bad_request","message":"frame is not val ...', False]
CUT_TEXT = ["message", "*" * 64 + " ...", False]


def report(case: str, *, received=(), expected=None, behavior="FAILED", close="OK", code=1000, **extra):
    r = {
        "id": case,
        "behavior": behavior,
        "behaviorClose": close,
        "remoteCloseCode": code,
        "resultClose": "Connection was properly closed" if close == "OK" else "The close code was wrong",
        "received": list(received),
        "expected": expected if expected is not None else {"OK": [ECHO]},
    }
    r.update(extra)
    return r


KILLED = {
    "expectedClose": {"closedByMe": True, "closeCode": [1000], "requireClean": True},
    "closedByMe": True,
    "localCloseCode": 1001,
    "wasClean": True,
    "wirelog": [["TF", [1, "x"], 1, True, 0, "00000000", None, None, False], ["KLE"]],
}

CASES = [
    # (name, report, passes)
    ("one reply for one message", report("1.1.2", received=[HELLO, ERROR]), True),
    ("cut payloads, as reports hold them", report("1.1.2", received=[CUT_HELLO, CUT_ERROR]), True),
    ("a cut payload that is not JSON", report("1.1.2", received=[CUT_HELLO, CUT_TEXT]), False),
    ("no reply to a message", report("1.1.2", received=[HELLO]), False),
    ("two replies to one message", report("1.1.2", received=[HELLO, ERROR, ERROR]), False),
    ("a reply that is not JSON", report("1.1.2", received=[HELLO, ECHO]), False),
    ("a binary reply", report("1.2.1", received=[HELLO, ["message", "{}", True]]), False),
    ("no hello first", report("1.1.2", received=[ERROR, HELLO]), False),
    ("a message after hello counts, not hello itself", report("1.1.2", received=[ERROR]), False),
    (
        "the expected pong",
        report("2.3", received=[HELLO, ["pong", "0xff"]], expected={"OK": [["pong", "0xff"]]}),
        True,
    ),
    ("a missing pong", report("2.3", received=[HELLO], expected={"OK": [["pong", "0xff"]]}), False),
    (
        "a pong with another payload",
        report("2.3", received=[HELLO, ["pong", "0x00"]], expected={"OK": [["pong", "0xff"]]}),
        False,
    ),
    (
        "a pong and a reply in a fragmented message with a ping",
        report(
            "5.6",
            received=[HELLO, ["pong", "0x01"], ERROR],
            expected={"OK": [["pong", "0x01"], ECHO]},
        ),
        True,
    ),
    (
        "the suite's 1001 time-out close, completed cleanly",
        report("1.1.2", received=[HELLO, ERROR], close="WRONG CODE", code=1001, **KILLED),
        True,
    ),
    (
        "the suite's 1001 time-out close answered with another code",
        report("1.1.2", received=[HELLO, ERROR], close="WRONG CODE", code=1000, **KILLED),
        False,
    ),
    (
        "the suite's 1001 time-out close, not clean",
        report("1.1.2", received=[HELLO, ERROR], close="WRONG CODE", code=1001, **{**KILLED, "wasClean": False}),
        False,
    ),
    (
        "the suite's time-out close does not excuse a missing reply",
        report("1.1.2", received=[HELLO], close="WRONG CODE", code=1001, **KILLED),
        False,
    ),
    (
        "a 1001 from the server when the suite did not time out",
        report("1.1.2", received=[HELLO, ERROR], close="WRONG CODE", code=1001, **{**KILLED, "wirelog": []}),
        False,
    ),
    ("the wrong close", report("7.1.1", received=[HELLO, ERROR], close="FAILED", code=1011), False),
    (
        "a protocol error failed at once (the strict alternative)",
        report("6.3.2", received=[HELLO], expected={"OK": [], "NON-STRICT": [ECHO]}, code=1007),
        True,
    ),
    (
        "a non-strict alternative",
        report("6.4.1", received=[HELLO, ERROR], expected={"OK": [], "NON-STRICT": [ECHO]}, close="NON-STRICT"),
        True,
    ),
    ("a report without expectations", report("1.1.1", received=[HELLO, ERROR], expected={}), False),
    ("64 KiB, at the limit, accepted", report("9.1.1", rxFrameStats={"1": 2, "8": 1}), True),
    ("64 KiB accepted but the close failed", report("9.1.1", close="FAILED", code=1009), False),
    ("256 KiB refused with 1009", report("9.1.2", close="FAILED", code=1009, rxFrameStats={"1": 1}), True),
    ("256 KiB echoed instead of refused", report("9.1.2", code=1000), False),
    ("4 MiB fragmented refused with 1009", report("9.3.5", close="FAILED", code=1009), True),
    ("1000 small messages, closed cleanly", report("9.7.6", rxFrameStats={"1": 2, "8": 1}), True),
    ("deflate, 16 bytes, closed cleanly", report("12.1.1", rxFrameStats={"1": 1, "8": 1}), True),
    ("deflate, 128 KiB refused with 1009", report("13.3.10", close="FAILED", code=1009), True),
    ("deflate, 128 KiB accepted", report("13.3.10", code=1000, rxFrameStats={"1": 1}), False),
    ("deflate, 64 Ki characters refused: more bytes", report("12.2.9", close="FAILED", code=1009), True),
    ("deflate, 64 Ki characters accepted", report("12.2.9", code=1000, rxFrameStats={"1": 1}), True),
    ("deflate not negotiated", report("12.1.1", behavior="UNIMPLEMENTED", received=[HELLO]), False),
]


@pytest.mark.parametrize("name,rep,passes", CASES, ids=[c[0] for c in CASES])
def test_score_case(name, rep, passes):
    verdict = score.score_case(rep, max_message_bytes=64 * 1024)
    assert verdict.passed is passes, verdict.why


def test_the_limit_is_a_parameter():
    rep = report("9.1.2", code=1000, rxFrameStats={"1": 2})
    assert score.score_case(rep, max_message_bytes=1 << 20).passed
    assert not score.score_case(rep, max_message_bytes=64 * 1024).passed


def write_reports(tmp_path: Path, reports: list[dict]) -> Path:
    index = {}
    for r in reports:
        name = f"chat_engine_case_{r['id'].replace('.', '_')}.json"
        (tmp_path / name).write_text(json.dumps(r))
        index[r["id"]] = {"behavior": r["behavior"], "reportfile": name}
    (tmp_path / "index.json").write_text(json.dumps({"chat-engine": index}))
    return tmp_path


def test_main_exits_1_when_a_case_fails_and_orders_cases_numerically(tmp_path, capsys):
    write_reports(tmp_path, [report("10.1.1", received=[HELLO, ERROR]), report("2.10", received=[HELLO]),
                             report("2.9", received=[HELLO, ERROR])])
    assert score.main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()[:3]] == ["2.9", "2.10", "10.1.1"]
    assert "2 of 3 cases pass; failing: 2.10" in out


def test_main_exits_0_when_all_pass_and_writes_the_table_into_the_doc(tmp_path):
    reports = write_reports(tmp_path / "r" if (tmp_path / "r").mkdir() is None else tmp_path,
                            [report("1.1.2", received=[HELLO, ERROR])])
    doc = tmp_path / "doc.md"
    doc.write_text(f"# Title\n\nbefore\n{score.BEGIN_MARK}\nold table\n{score.END_MARK}\nafter\n")
    assert score.main([str(reports), "--write-doc", str(doc)]) == 0
    text = doc.read_text()
    assert "old table" not in text and text.startswith("# Title\n\nbefore\n") and text.endswith("after\n")
    assert "| 1.1.2 | pass | 1000 |" in text and "1 of 1 cases pass." in text


def test_main_refuses_a_directory_without_reports(tmp_path, capsys):
    assert score.main([str(tmp_path)]) == 2
    assert "cannot read the reports" in capsys.readouterr().err
