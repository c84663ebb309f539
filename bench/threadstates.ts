import { readdirSync, readFileSync } from 'node:fs';

/**
 * Where threads spend their time, by sampling /proc: running (or runnable), idle in epoll
 * (an event loop waiting for the network), or asleep in a named kernel function — nanosleep
 * is e.g. SQLite's busy handler backing off from a locked database, a futex is a wait for
 * another thread. It tells a thread that is slow because it computes from one that waits.
 */
export type StateShares = Record<string, number>;

/** Often enough for a few hundred samples in a short window; cheap at a dozen threads. */
const SAMPLE_INTERVAL_MS = 20;

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function stateOf(pid: number, tid: string): string | undefined {
  const stat = read(`/proc/${pid}/task/${tid}/stat`);
  if (stat === undefined) return undefined;
  if (stat[stat.lastIndexOf(')') + 2] === 'R') return 'running';
  const wchan = read(`/proc/${pid}/task/${tid}/wchan`)?.trim() ?? '';
  if (wchan.includes('epoll')) return 'idle in epoll';
  if (wchan.includes('nanosleep')) return 'nanosleep';
  if (wchan.includes('futex')) return 'futex';
  return wchan === '' || wchan === '0' ? 'asleep' : wchan;
}

function shares(counts: Map<string, number>): StateShares {
  const total = [...counts.values()].reduce((a, b) => a + b, 0) || 1;
  return Object.fromEntries(
    [...counts].sort((a, b) => b[1] - a[1]).map(([state, n]) => [state, (n / total) * 100]),
  );
}

/** Samples every thread of `pids` until `stop()`, which gives each thread's state shares. */
export function sampleThreadStates(pids: readonly number[]): {
  stop(): Map<number, StateShares>;
} {
  const counts = new Map<number, Map<string, number>>();
  const timer = setInterval(() => {
    for (const pid of pids) {
      let tids: string[] = [];
      try {
        tids = readdirSync(`/proc/${pid}/task`);
      } catch {
        continue; // the process has exited
      }
      for (const tid of tids) {
        const state = stateOf(pid, tid);
        if (state === undefined) continue;
        const thread = counts.get(Number(tid)) ?? new Map<string, number>();
        thread.set(state, (thread.get(state) ?? 0) + 1);
        counts.set(Number(tid), thread);
      }
    }
  }, SAMPLE_INTERVAL_MS);
  return {
    stop() {
      clearInterval(timer);
      return new Map([...counts].map(([tid, c]) => [tid, shares(c)]));
    },
  };
}
