/**
 * Calls made during one turn of the event loop, run as one statement: for PostgreSQL, where
 * each statement costs a round trip, a parse and (for a write) a commit. Measured against a
 * local server, 20,000 session inserts from 50 concurrent callers: 122–135 µs of the server's
 * CPU and 47–69 µs of ours per row one statement each, 11 µs and 6–10 µs per row as one
 * multi-row statement per turn.
 *
 * Each caller still gets its own outcome, once the statement has completed (committed, for a
 * write). A statement is atomic, so when the batch fails nothing of it was applied, and each
 * call is then run alone: a bad input fails only its own caller.
 */
export class TurnBatch<I, O> {
  readonly #runBatch: (inputs: I[]) => Promise<O[]>;
  readonly #runOne: (input: I) => Promise<O>;
  readonly #maxBatch: number;
  #pending: Call<I, O>[] = [];
  #scheduled = false;

  /**
   * `runBatch` answers one output per input, in order; `runOne` is the same for one input.
   * At most `maxBatch` inputs go in one statement (bounded parameter arrays).
   */
  constructor(options: {
    runBatch: (inputs: I[]) => Promise<O[]>;
    runOne: (input: I) => Promise<O>;
    maxBatch?: number;
  }) {
    this.#runBatch = options.runBatch;
    this.#runOne = options.runOne;
    this.#maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
  }

  run(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#pending.push({ input, resolve, reject });
      if (this.#scheduled) return;
      this.#scheduled = true;
      // setImmediate, not a microtask: every call made while this poll phase's I/O is handled
      // joins in.
      setImmediate(() => this.#flush());
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const calls = this.#pending;
    this.#pending = [];
    for (let start = 0; start < calls.length; start += this.#maxBatch) {
      void this.#runChunk(calls.slice(start, start + this.#maxBatch));
    }
  }

  async #runChunk(calls: Call<I, O>[]): Promise<void> {
    if (calls.length === 1) {
      this.#runAlone(calls);
      return;
    }
    let outputs: O[];
    try {
      outputs = await this.#runBatch(calls.map((call) => call.input));
    } catch {
      this.#runAlone(calls);
      return;
    }
    calls.forEach((call, index) => call.resolve(outputs[index] as O));
  }

  #runAlone(calls: Call<I, O>[]): void {
    for (const call of calls) this.#runOne(call.input).then(call.resolve, call.reject);
  }
}

/** Enough to amortise a statement's cost many times over; small enough for one statement's
 * parameter arrays to stay a few hundred kilobytes. */
const DEFAULT_MAX_BATCH = 500;

interface Call<I, O> {
  input: I;
  resolve: (output: O) => void;
  reject: (error: unknown) => void;
}

/**
 * Splits inputs whose key repeats an earlier one in the same batch: a multi-row UPDATE touches
 * a row once however many inputs name it, so repeats must run after the batch, one by one, to
 * get their own outcome (a second decision for the same request must see the first).
 */
export function firstsAndRepeats<I>(
  inputs: I[],
  keyOf: (input: I) => string,
): { firsts: number[]; repeats: number[] } {
  const seen = new Set<string>();
  const firsts: number[] = [];
  const repeats: number[] = [];
  inputs.forEach((input, index) => {
    const key = keyOf(input);
    if (seen.has(key)) repeats.push(index);
    else {
      seen.add(key);
      firsts.push(index);
    }
  });
  return { firsts, repeats };
}
