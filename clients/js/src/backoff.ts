/** How long to wait between attempts: exponential growth up to a cap, with jitter. */
export interface BackoffOptions {
  /** The first delay's upper bound, in ms (default 250). */
  initialMs?: number;
  /** The largest delay, in ms (default 30000). */
  maxMs?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /** A source of numbers in [0, 1) (default Math.random); tests pin it. */
  random?: () => number;
}

/**
 * Exponential back-off with "equal jitter": attempt n waits between half and all of
 * min(maxMs, initialMs * factor^n). Half of the delay is random, so many clients cut off at once
 * (a server restart) do not come back in step; the other half keeps a floor, so a server that stays
 * down is not hammered by the near-zero delays that "full jitter" sometimes draws.
 * Not thread-safe (there are no threads): one owner calls next() and reset().
 */
export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 250;
    this.maxMs = options.maxMs ?? 30_000;
    this.factor = options.factor ?? 2;
    this.random = options.random ?? Math.random;
    if (!(this.initialMs > 0) || !(this.maxMs >= this.initialMs) || !(this.factor >= 1)) {
      throw new RangeError("backoff needs initialMs > 0, maxMs >= initialMs and factor >= 1");
    }
  }

  /** The delay before the next attempt, in ms; each call counts one attempt. */
  next(): number {
    const cap = Math.min(this.maxMs, this.initialMs * this.factor ** this.attempt);
    this.attempt += 1;
    return Math.round(cap / 2 + (this.random() * cap) / 2);
  }

  /** Back to the first delay, after a success. */
  reset(): void {
    this.attempt = 0;
  }

  /** Attempts counted since the last reset. */
  get attempts(): number {
    return this.attempt;
  }
}
