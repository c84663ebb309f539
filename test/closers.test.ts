import { describe, expect, it } from 'vitest';
import { closeInReverse } from '../src/lib/closers.js';

/** A shutdown step that records its name when it runs. */
const step = (ran: string[], name: string) => () => {
  ran.push(name);
  return Promise.resolve();
};

describe('closing in reverse start order', () => {
  it('runs the steps last-added first, every time it is called', async () => {
    const ran: string[] = [];
    const steps = ['store', 'worker', 'api'].map((name) => step(ran, name));
    await closeInReverse(steps, () => {});
    await closeInReverse(steps, () => {});
    expect(ran).toEqual(['api', 'worker', 'store', 'api', 'worker', 'store']);
  });

  it('runs every step when one fails, and reports the failure', async () => {
    const ran: string[] = [];
    const failures: unknown[] = [];
    const broken = new Error('worker would not stop');
    await closeInReverse(
      [step(ran, 'store'), () => Promise.reject(broken), step(ran, 'api')],
      (error) => failures.push(error),
    );
    expect(ran).toEqual(['api', 'store']);
    expect(failures).toEqual([broken]);
  });
});
