/**
 * Calls made during one turn of the event loop, run as one statement: for PostgreSQL, where
 * each statement costs a round trip, a parse and (for a write) a commit; one multi-row
 * statement per turn costs a fraction of that per row (docs/performance.md, "Measured design
 * choices").
 *
 * Each caller still gets its own outcome, once the statement has completed (committed, for a
 * write). `runBatch` must be exactly one statement:
 *
 * - When the server refuses it (a constraint, a bad value, a deadlock: an error with a
 *   SQLSTATE), nothing of it was applied, and each call is run alone, one after the other, so
 *   that a bad input fails only its own caller.
 * - When the outcome is unknown (the connection dropped: it may have committed), every caller
 *   gets the error, as each would have for a statement of its own; none is run again.
 * - With `keyOf`, a call whose key is already in flight waits until that call has settled: a
 *   multi-row UPDATE touches a row once however many inputs name it, and a second decision or
 *   attempt for the same request must see the first.
 */
export class TurnBatch<I, O> {
  readonly #runBatch: (inputs: I[]) => Promise<O[]>;
  readonly #keyOf: ((input: I) => string) | undefined;
  readonly #maxBatch: number;
  #pending: Call<I, O>[] = [];
  /** Calls that already own their key (released after the call before them settled). */
  #ready: Call<I, O>[] = [];
  #scheduled = false;
  /** With `keyOf`: the keys of calls in flight, each with the calls waiting behind it. */
  readonly #busy = new Map<string, Call<I, O>[]>();

  /**
   * `runBatch` answers one output per input, in order, for one input as for many (a call run
   * alone is a batch of one). At most `maxBatch` inputs go in one statement (bounded parameter
   * arrays).
   */
  constructor(options: {
    runBatch: (inputs: I[]) => Promise<O[]>;
    keyOf?: (input: I) => string;
    maxBatch?: number;
  }) {
    this.#runBatch = options.runBatch;
    this.#keyOf = options.keyOf;
    this.#maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
  }

  run(input: I): Promise<O> {
    const key = this.#keyOf?.(input);
    return new Promise<O>((resolve, reject) => {
      this.#pending.push({ input, key, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // setImmediate, not a microtask: every call made while this poll phase's I/O is handled
    // joins in.
    setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    const now = [...this.#ready, ...this.#admit(this.#pending)];
    this.#ready = [];
    this.#pending = [];
    for (let start = 0; start < now.length; start += this.#maxBatch) {
      const chunk = now.slice(start, start + this.#maxBatch);
      void this.#runChunk(chunk).finally(() => this.#release(chunk));
    }
  }

  /** The calls that may run now; one whose key is in flight waits behind it, in call order. */
  #admit(calls: Call<I, O>[]): Call<I, O>[] {
    const now: Call<I, O>[] = [];
    for (const call of calls) {
      const waiting = call.key === undefined ? undefined : this.#busy.get(call.key);
      if (waiting) waiting.push(call);
      else {
        if (call.key !== undefined) this.#busy.set(call.key, []);
        now.push(call);
      }
    }
    return now;
  }

  /** After a chunk settled: the next call waiting on each of its keys may run. */
  #release(chunk: Call<I, O>[]): void {
    for (const { key } of chunk) {
      if (key === undefined) continue;
      const next = this.#busy.get(key)?.shift();
      if (next === undefined) this.#busy.delete(key);
      else this.#ready.push(next);
    }
    if (this.#ready.length > 0) this.#schedule();
  }

  async #runChunk(calls: Call<I, O>[]): Promise<void> {
    if (calls.length === 1) {
      await this.#runAlone(calls);
      return;
    }
    let outputs: O[];
    try {
      outputs = await this.#outputsOf(calls);
    } catch (error) {
      if (refusedByServer(error)) await this.#runAlone(calls);
      else for (const call of calls) call.reject(error);
      return;
    }
    calls.forEach((call, index) => call.resolve(outputs[index] as O));
  }

  /** The batch's outputs, one per call: a statement that answered another count is a bug. */
  async #outputsOf(calls: Call<I, O>[]): Promise<O[]> {
    const outputs = await this.#runBatch(calls.map((call) => call.input));
    if (outputs.length !== calls.length) {
      throw new Error(`a batch of ${calls.length} answered ${outputs.length}`);
    }
    return outputs;
  }

  /** One after the other: in call order, and without flooding the connection pool. */
  async #runAlone(calls: Call<I, O>[]): Promise<void> {
    for (const call of calls) {
      try {
        const [output] = await this.#outputsOf([call]);
        call.resolve(output as O);
      } catch (error) {
        call.reject(error);
      }
    }
  }
}

/**
 * The server answered the statement with an error: it was not applied. Connection exceptions
 * (class 08) and operator intervention (57, e.g. the server shutting down) leave the outcome
 * unknown, as does an error with no SQLSTATE at all (the connection dropped).
 */
function refusedByServer(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return (
    typeof code === 'string' &&
    /^[0-9A-Z]{5}$/.test(code) &&
    !code.startsWith('08') &&
    !code.startsWith('57')
  );
}

/** Enough to amortise a statement's cost many times over; small enough for one statement's
 * parameter arrays to stay a few hundred kilobytes. */
const DEFAULT_MAX_BATCH = 500;

interface Call<I, O> {
  input: I;
  /** `keyOf(input)`, worked out once; undefined without `keyOf`. */
  key: string | undefined;
  resolve: (output: O) => void;
  reject: (error: unknown) => void;
}
