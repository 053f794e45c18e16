import type { MessageEvent } from "./protocol.js";

/**
 * The per-user seq cursor of docs/protocol.md §2.8: `value` is the highest seq such that every entry
 * with `seq <= value` has been handed to the app. Entries are accepted in any order and from any
 * path (live, sync, a sync that overlaps live events); each is released exactly once, in seq order.
 * Entries ahead of a gap wait in `pending` until the gap is filled (by a `sync`).
 * Pure: no I/O, no timers. Not thread-safe (single owner).
 */
export class SeqCursor {
  private cursor: number;
  private readonly pending = new Map<number, MessageEvent>();

  constructor(initial = 0) {
    if (!Number.isSafeInteger(initial) || initial < 0) {
      throw new RangeError(`a cursor is an integer >= 0, got ${initial}`);
    }
    this.cursor = initial;
  }

  get value(): number {
    return this.cursor;
  }

  /** True when entries wait beyond a missing one: the app must `sync` from `value`. */
  get hasGap(): boolean {
    return this.pending.size > 0;
  }

  /**
   * Takes one entry; returns the entries that are now in order (possibly none). A repeat (seq at or
   * below the cursor, or already waiting) is dropped.
   */
  accept(entry: MessageEvent): MessageEvent[] {
    if (entry.seq <= this.cursor || this.pending.has(entry.seq)) return [];
    this.pending.set(entry.seq, entry);
    return this.drain();
  }

  /**
   * A `synced` answer: the server has sent every entry up to `upto`. The cursor moves to at least
   * `upto` (step 4 of §2.8); entries waiting at or below it are released first, in order.
   */
  settle(upto: number): MessageEvent[] {
    const released = this.drain();
    if (upto > this.cursor) {
      for (const seq of [...this.pending.keys()].sort((a, b) => a - b)) {
        if (seq > upto) break;
        released.push(this.pending.get(seq)!);
        this.pending.delete(seq);
      }
      this.cursor = upto;
      released.push(...this.drain());
    }
    return released;
  }

  /** The inbox was reset (the account was re-created, or the server restored): start again at 0. */
  reset(): void {
    this.cursor = 0;
    this.pending.clear();
  }

  private drain(): MessageEvent[] {
    const released: MessageEvent[] = [];
    for (let next = this.pending.get(this.cursor + 1); next; next = this.pending.get(this.cursor + 1)) {
      this.pending.delete(next.seq);
      this.cursor = next.seq;
      released.push(next);
    }
    return released;
  }
}
