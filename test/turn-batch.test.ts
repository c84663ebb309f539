import { describe, expect, it } from 'vitest';
import { firstsAndRepeats, TurnBatch } from '../src/store/turn-batch.js';

describe('TurnBatch', () => {
  function recorder(options: { failBatchesWith?: number } = {}) {
    const batches: number[][] = [];
    const alone: number[] = [];
    const batch = new TurnBatch<number, number>({
      runBatch: (inputs) => {
        batches.push(inputs);
        if (options.failBatchesWith !== undefined && inputs.includes(options.failBatchesWith)) {
          return Promise.reject(new Error('bad input in the batch'));
        }
        return Promise.resolve(inputs.map((n) => n * 10));
      },
      runOne: (input) => {
        alone.push(input);
        if (input === options.failBatchesWith) {
          return Promise.reject(new Error(`bad input ${input}`));
        }
        return Promise.resolve(input * 10);
      },
      maxBatch: 3,
    });
    return { batch, batches, alone };
  }

  it('runs the calls of one turn together, in chunks of at most maxBatch, each with its output', async () => {
    const { batch, batches, alone } = recorder();
    const outputs = await Promise.all([1, 2, 3, 4].map((n) => batch.run(n)));
    expect(outputs).toEqual([10, 20, 30, 40]);
    expect(batches).toEqual([[1, 2, 3]]);
    // A chunk of one takes the single-call path.
    expect(alone).toEqual([4]);
    const later = await Promise.all([batch.run(6), batch.run(7)]);
    expect(later).toEqual([60, 70]);
    expect(batches).toEqual([
      [1, 2, 3],
      [6, 7],
    ]);
  });

  it('runs a lone call alone', async () => {
    const { batch, batches, alone } = recorder();
    expect(await batch.run(9)).toBe(90);
    expect(batches).toEqual([]);
    expect(alone).toEqual([9]);
  });

  it('fails only the bad call when its batch fails, running the others alone', async () => {
    const { batch, alone } = recorder({ failBatchesWith: 2 });
    const results = await Promise.allSettled([1, 2, 3].map((n) => batch.run(n)));
    expect(results).toEqual([
      { status: 'fulfilled', value: 10 },
      { status: 'rejected', reason: new Error('bad input 2') },
      { status: 'fulfilled', value: 30 },
    ]);
    expect(alone).toEqual([1, 2, 3]);
  });
});

describe('firstsAndRepeats', () => {
  it('keeps the first of each key and lists the repeats in order', () => {
    expect(firstsAndRepeats(['a', 'b', 'a', 'c', 'b', 'a'], (k) => k)).toEqual({
      firsts: [0, 1, 3],
      repeats: [2, 4, 5],
    });
  });
});
