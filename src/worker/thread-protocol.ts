import type { Config } from '../config/config.js';
import type { CircuitState } from '../lib/circuit-breaker.js';
import type { MetricsJson } from '../lib/metrics.js';
import type { WorkerPart } from './role.js';

/** What the main thread hands the worker thread at start (structured-cloned). */
export interface WorkerThreadData {
  config: Config;
  authUrl: string;
  webhookSecrets: string[];
  /** Which half of the worker role this thread runs. */
  part: Exclude<WorkerPart, 'both'>;
}

/** Main thread → worker thread. */
export type HostMessage = { type: 'stop' } | { type: 'metrics'; id: number };

/** Worker thread → main thread. */
export type ThreadMessage =
  | { type: 'started' }
  | { type: 'stopped' }
  | { type: 'circuit'; state: CircuitState }
  | { type: 'metrics'; id: number; json: MetricsJson };
