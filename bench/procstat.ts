import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { monoMs } from './clock.js';
import { sampleThreadStates, type StateShares } from './threadstates.js';

/**
 * CPU and memory of the processes a scenario involves, read from /proc (Linux): the harness
 * needs to say which process was CPU-bound, since every one of them shares the same cores.
 * CPU figures are percentages of one core, so two saturated cores read 200 %.
 */
export interface Watched {
  name: string;
  pid: number;
}

export interface ProcessCpu {
  name: string;
  pid: number;
  /** utime + stime of every thread, over the window. */
  cpuPercent: number;
  /** The thread whose id is the pid: the event loop that runs JavaScript first. */
  mainThreadPercent: number;
  /**
   * Time the main thread was ready to run but waited for a core (schedstat). Running plus
   * waiting near 100 % is an event loop that wanted a whole core: CPU-bound, and starved.
   */
  mainThreadWaitingPercent: number;
  /** The busiest other thread (a worker thread, a GC helper, libuv's pool). */
  busiestOtherThreadPercent: number;
  /** For the sampled processes: where the main and the busiest other thread were. */
  states?: { main: StateShares; busiestOther: StateShares };
}

export interface CpuReport {
  seconds: number;
  processes: ProcessCpu[];
  /** Servers outside the harness's children, summed by command name (redis-server, postgres). */
  groups: { name: string; cpuPercent: number }[];
  /** Everything else the machine ran meanwhile: other sessions, the kernel. */
  otherPercent: number;
  machineBusyPercent: number;
}

const CLOCK_TICKS_PER_SEC = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // the process or thread has gone
  }
}

/** utime + stime, in clock ticks, from a /proc/…/stat line (fields 14 and 15). */
function ticksOf(statPath: string): number | undefined {
  const stat = read(statPath);
  if (stat === undefined) return undefined;
  // The command name may hold spaces and parentheses: fields are counted after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Nanoseconds a thread has spent runnable on a run queue, not running (schedstat field 2). */
function runQueueWaitNs(pid: number): number {
  return Number(read(`/proc/${pid}/task/${pid}/schedstat`)?.split(' ')[1] ?? NaN);
}

function threadTicks(pid: number): Map<number, number> {
  const threads = new Map<number, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return threads;
  }
  for (const tid of tids) {
    const ticks = ticksOf(`/proc/${pid}/task/${tid}/stat`);
    if (ticks !== undefined) threads.set(Number(tid), ticks);
  }
  return threads;
}

function groupTicks(names: readonly string[]): Map<string, Map<number, number>> {
  const groups = new Map(names.map((n) => [n, new Map<number, number>()]));
  if (names.length === 0) return groups;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const group = groups.get(read(`/proc/${entry}/comm`)?.trim() ?? '');
    const ticks = ticksOf(`/proc/${entry}/stat`);
    if (group && ticks !== undefined) group.set(Number(entry), ticks);
  }
  return groups;
}

/** Busy ticks of the whole machine, from the first line of /proc/stat. */
function machineBusyTicks(): number {
  const line = (read('/proc/stat') ?? '').split('\n')[0] ?? '';
  // user nice system idle iowait irq softirq steal: busy is what ran here, not idle, iowait or
  // time the hypervisor gave to another guest (guest time is already inside user).
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return user + nice + system + irq + softirq;
}

/**
 * Starts measuring now; `stop()` returns each process's CPU use since, and for `sampled`
 * where their threads spent the time (threadstates.ts).
 */
export function startCpuWindow(
  watched: readonly Watched[],
  groupNames: readonly string[] = [],
  sampled: readonly Watched[] = [],
): { stop(): CpuReport } {
  const startedAt = monoMs();
  const sampling = sampleThreadStates(sampled.map((w) => w.pid));
  const before = new Map(watched.map((w) => [w.pid, threadTicks(w.pid)]));
  const waitedBefore = new Map(watched.map((w) => [w.pid, runQueueWaitNs(w.pid)]));
  const groupsBefore = groupTicks(groupNames);
  const machineBefore = machineBusyTicks();
  return {
    stop() {
      const seconds = (monoMs() - startedAt) / 1000;
      const pct = (ticks: number) => (ticks / CLOCK_TICKS_PER_SEC / seconds) * 100;
      const states = sampling.stop();
      const isSampled = new Set(sampled.map((w) => w.pid));
      const processes = watched.map(({ name, pid }): ProcessCpu => {
        const start = before.get(pid) ?? new Map<number, number>();
        const deltas = [...threadTicks(pid)].map(([tid, t]) => ({
          tid,
          ticks: t - (start.get(tid) ?? 0),
        }));
        const main = deltas.find((d) => d.tid === pid)?.ticks ?? 0;
        const others = deltas.filter((d) => d.tid !== pid).sort((a, b) => b.ticks - a.ticks);
        const busiest = others[0] ?? { tid: -1, ticks: 0 };
        return {
          name,
          pid,
          cpuPercent: pct(deltas.reduce((a, d) => a + d.ticks, 0)),
          mainThreadPercent: pct(main),
          mainThreadWaitingPercent:
            (runQueueWaitNs(pid) - (waitedBefore.get(pid) ?? NaN)) / 1e7 / seconds,
          busiestOtherThreadPercent: pct(busiest.ticks),
          ...(isSampled.has(pid)
            ? {
                states: {
                  main: states.get(pid) ?? {},
                  busiestOther: states.get(busiest.tid) ?? {},
                },
              }
            : {}),
        };
      });
      const groupsAfter = groupTicks(groupNames);
      const groups = groupNames.map((name) => {
        const start = groupsBefore.get(name) ?? new Map<number, number>();
        let ticks = 0;
        for (const [pid, t] of groupsAfter.get(name) ?? []) ticks += t - (start.get(pid) ?? 0);
        return { name, cpuPercent: pct(ticks) };
      });
      // /proc/stat counts in the same USER_HZ ticks as /proc/<pid>/stat.
      const machineBusyPercent = pct(machineBusyTicks() - machineBefore);
      const ours =
        processes.reduce((a, p) => a + p.cpuPercent, 0) +
        groups.reduce((a, g) => a + g.cpuPercent, 0);
      return {
        seconds,
        processes,
        groups,
        otherPercent: Math.max(0, machineBusyPercent - ours),
        machineBusyPercent,
      };
    },
  };
}

/** Peak resident set size (VmHWM) of a live process, in MiB. */
export function peakRssMiB(pid: number): number | undefined {
  const match = /^VmHWM:\s+(\d+) kB/m.exec(read(`/proc/${pid}/status`) ?? '');
  return match?.[1] === undefined ? undefined : Number(match[1]) / 1024;
}
