import { describe, expect, it } from 'vitest';
import { CircuitBreaker, type CircuitState } from '../src/lib/circuit-breaker.js';

function breaker(threshold = 3, openMs = 1_000) {
  let now = 0;
  const changes: CircuitState[] = [];
  const b = new CircuitBreaker({
    failureThreshold: threshold,
    openMs,
    now: () => now,
    onStateChange: (s) => changes.push(s),
  });
  return { b, changes, advance: (ms: number) => (now += ms) };
}

describe('circuit breaker', () => {
  it('stays closed while failures are fewer than the threshold or interrupted by a success', () => {
    const { b } = breaker(3);
    b.onFailure();
    b.onFailure();
    b.onSuccess();
    b.onFailure();
    b.onFailure();
    expect(b.state).toBe('closed');
    expect(b.tryEnter()).toBe(true);
  });

  it('opens after the threshold of consecutive failures and refuses calls until the interval passes', () => {
    const { b, changes, advance } = breaker(3, 1_000);
    for (let i = 0; i < 3; i += 1) b.onFailure();
    expect(b.state).toBe('open');
    expect(b.isRefusing()).toBe(true);
    expect(b.tryEnter()).toBe(false);
    advance(999);
    expect(b.tryEnter()).toBe(false);
    advance(1);
    expect(b.isRefusing()).toBe(false);
    expect(changes).toEqual(['open']);
  });

  it('lets exactly one probe through when half-open and closes on its success', () => {
    const { b, changes, advance } = breaker(1, 100);
    b.onFailure();
    advance(100);
    expect(b.tryEnter()).toBe(true);
    expect(b.state).toBe('half_open');
    expect(b.tryEnter()).toBe(false);
    expect(b.isRefusing()).toBe(true);
    b.onSuccess();
    expect(b.state).toBe('closed');
    expect(b.tryEnter()).toBe(true);
    expect(changes).toEqual(['open', 'half_open', 'closed']);
  });

  it('opens again for a full interval when the probe fails', () => {
    const { b, advance } = breaker(1, 100);
    b.onFailure();
    advance(100);
    expect(b.tryEnter()).toBe(true);
    b.onFailure();
    expect(b.state).toBe('open');
    advance(99);
    expect(b.tryEnter()).toBe(false);
    advance(1);
    expect(b.tryEnter()).toBe(true);
  });
});
