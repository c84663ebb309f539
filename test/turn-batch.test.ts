import { describe, expect, it } from 'vitest';
import { TurnBatch } from '../src/store/turn-batch.js';

/** An error as PostgreSQL reports a refused statement (a SQLSTATE code). */
function refused(message: string): Error {
  return Object.assign(new Error(message), { code: '23505' });
}

describe('TurnBatch', () => {
  function recorder(options: { failBatchesWith?: number; failure?: Error; keyed?: boolean } = {}) {
    const batches: number[][] = [];
    const alone: number[] = [];
    const settled: number[] = [];
    const batch = new TurnBatch<number, number>({
      runBatch: (inputs) => {
        const [input] = inputs;
        if (inputs.length === 1 && input !== undefined) {
          alone.push(input);
          if (input === options.failBatchesWith) {
            return Promise.reject(refused(`bad input ${input}`));
          }
        } else {
          batches.push(inputs);
          if (options.failBatchesWith !== undefined && inputs.includes(options.failBatchesWith)) {
            return Promise.reject(options.failure ?? refused('bad input in the batch'));
          }
        }
        settled.push(...inputs);
        return Promise.resolve(inputs.map((n) => n * 10));
      },
      // Keys by tens: 11 and 12 share key 1.
      ...(options.keyed ? { keyOf: (n: number) => String(Math.floor(n / 10)) } : {}),
      maxBatch: 3,
    });
    return { batch, batches, alone, settled };
  }

  it('runs the calls of one turn together, in chunks of at most maxBatch, each with its output', async () => {
    const { batch, batches, alone } = recorder();
    const outputs = await Promise.all([1, 2, 3, 4].map((n) => batch.run(n)));
    expect(outputs).toEqual([10, 20, 30, 40]);
    expect(batches).toEqual([[1, 2, 3]]);
    // A chunk of one runs alone (a batch of one).
    expect(alone).toEqual([4]);
    expect(await Promise.all([batch.run(6), batch.run(7)])).toEqual([60, 70]);
    expect(batches).toEqual([
      [1, 2, 3],
      [6, 7],
    ]);
  });

  it('fails only the bad call when the server refuses the batch, running the others alone in order', async () => {
    const { batch, batches, alone } = recorder({ failBatchesWith: 2 });
    const results = await Promise.allSettled([1, 2, 3].map((n) => batch.run(n)));
    expect(batches).toEqual([[1, 2, 3]]);
    expect(results).toEqual([
      { status: 'fulfilled', value: 10 },
      { status: 'rejected', reason: refused('bad input 2') },
      { status: 'fulfilled', value: 30 },
    ]);
    expect(alone).toEqual([1, 2, 3]);
  });

  it('fails every call of a batch, or a call alone, whose statement answered another count', async () => {
    const short = new TurnBatch<number, number>({
      runBatch: (inputs) => Promise.resolve(inputs.slice(1).map((n) => n * 10)),
    });
    const results = await Promise.allSettled([1, 2, 3].map((n) => short.run(n)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(String((results[0] as PromiseRejectedResult).reason)).toContain(
      'a batch of 3 answered 2',
    );
    await expect(short.run(4)).rejects.toThrow('a batch of 1 answered 0');
  });

  it('never runs a batch again when its outcome is unknown (the connection dropped)', async () => {
    const dropped = new Error('Connection terminated unexpectedly');
    const { batch, alone } = recorder({ failBatchesWith: 2, failure: dropped });
    const results = await Promise.allSettled([1, 2, 3].map((n) => batch.run(n)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(alone).toEqual([]);
  });

  it('runs a call whose key is in flight after it, in call order, and the others at once', async () => {
    const { batch, batches, settled } = recorder({ keyed: true });
    const outputs = await Promise.all([11, 21, 12, 31, 13].map((n) => batch.run(n)));
    expect(outputs).toEqual([110, 210, 120, 310, 130]);
    // 12 waits for 11, and 13 for 12; 21 and 31 go with 11.
    expect(batches).toEqual([[11, 21, 31]]);
    expect(settled).toEqual([11, 21, 31, 12, 13]);
  });
});
