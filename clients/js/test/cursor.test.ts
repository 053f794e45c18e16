// SeqCursor and Backoff are pure: table-driven tests, one row per case.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Backoff, SeqCursor, type MessageEvent } from "../src/index.js";

const entry = (seq: number): MessageEvent => ({
  type: "message",
  seq,
  msg_id: seq.toString(16).padStart(32, "0"),
  from: "a",
  to: "b",
  body: `body ${seq}`,
  ts: 1_700_000_000_000 + seq,
});

describe("SeqCursor", () => {
  const cases: { name: string; initial: number; steps: (number | { settle: number })[]; released: number[]; cursor: number; gap: boolean }[] = [
    { name: "in-order entries are released at once", initial: 0, steps: [1, 2, 3], released: [1, 2, 3], cursor: 3, gap: false },
    { name: "a repeat is dropped", initial: 0, steps: [1, 2, 2, 1, 3], released: [1, 2, 3], cursor: 3, gap: false },
    { name: "entries at or below the initial cursor are dropped", initial: 5, steps: [4, 5, 6], released: [6], cursor: 6, gap: false },
    { name: "an entry after a gap waits and the gap is reported", initial: 0, steps: [1, 3, 4], released: [1], cursor: 1, gap: true },
    { name: "filling the gap releases the waiting entries in order", initial: 0, steps: [1, 4, 3, 2], released: [1, 2, 3, 4], cursor: 4, gap: false },
    { name: "a repeat of a waiting entry is dropped", initial: 0, steps: [3, 3, 1, 2, 3], released: [1, 2, 3], cursor: 3, gap: false },
    { name: "synced moves the cursor to upto when nothing was returned", initial: 0, steps: [{ settle: 0 }], released: [], cursor: 0, gap: false },
    { name: "synced past the cursor keeps the seq order of later entries", initial: 0, steps: [1, { settle: 1 }, 2], released: [1, 2], cursor: 2, gap: false },
    { name: "synced below the cursor does not move it back", initial: 7, steps: [{ settle: 3 }, 8], released: [8], cursor: 8, gap: false },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const cursor = new SeqCursor(c.initial);
      const released: number[] = [];
      for (const step of c.steps) {
        const out = typeof step === "number" ? cursor.accept(entry(step)) : cursor.settle(step.settle);
        released.push(...out.map((e) => e.seq));
      }
      assert.deepEqual(released, c.released);
      assert.equal(cursor.value, c.cursor);
      assert.equal(cursor.hasGap, c.gap);
    });
  }

  test("reset starts again at 0 and forgets waiting entries", () => {
    const cursor = new SeqCursor(0);
    cursor.accept(entry(1));
    cursor.accept(entry(3));
    cursor.reset();
    assert.equal(cursor.value, 0);
    assert.equal(cursor.hasGap, false);
    assert.deepEqual(cursor.accept(entry(1)).map((e) => e.seq), [1]);
  });

  for (const bad of [-1, 1.5, Number.NaN, 2 ** 60]) {
    test(`an initial cursor of ${bad} is refused`, () => {
      assert.throws(() => new SeqCursor(bad), RangeError);
    });
  }
});

describe("Backoff", () => {
  const cases: { name: string; random: number; delays: number[] }[] = [
    { name: "with the least jitter each delay is half its cap, doubling to the maximum", random: 0, delays: [50, 100, 200, 400, 500, 500] },
    { name: "with the most jitter each delay is its whole cap", random: 0.999999, delays: [100, 200, 400, 800, 1000, 1000] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const backoff = new Backoff({ initialMs: 100, maxMs: 1000, random: () => c.random });
      assert.deepEqual(c.delays.map(() => backoff.next()), c.delays);
      backoff.reset();
      assert.equal(backoff.next(), c.delays[0]);
    });
  }

  for (const options of [{ initialMs: 0 }, { initialMs: 100, maxMs: 50 }, { factor: 0.5 }]) {
    test(`options ${JSON.stringify(options)} are refused`, () => {
      assert.throws(() => new Backoff(options), RangeError);
    });
  }
});
