import { resolve } from 'node:path';
import { BroadcastChannel } from 'node:worker_threads';
import type { Topic } from './port.js';

/**
 * Wakes the receives waiting in the other threads of this process that have the same SQLite
 * queue file open, as soon as a topic has new ready messages: `start` accepts on its main
 * thread, decides on one worker thread and delivers on another, and without this each hand-over
 * waited for the next poll (`pollIntervalMs`). Other processes on the file still poll.
 *
 * The topics made ready while one callback runs (a group commit resolving its callers) go out
 * as one message a microtask later, not a turn of the event loop later, which under load
 * takes milliseconds. A post costs about a µs.
 */
export class ThreadWakeups {
  readonly #channel: BroadcastChannel;
  readonly #ready = new Set<Topic>();
  #scheduled = false;
  #closed = false;

  constructor(file: string, onWake: (topic: Topic) => void) {
    this.#channel = new BroadcastChannel(`chargegate:sqlite-queue:${resolve(file)}`);
    // A thread with nothing else to do may still exit: waking it is not a reason to stay.
    this.#channel.unref();
    this.#channel.onmessage = (event) => {
      for (const topic of event.data as Topic[]) onWake(topic);
    };
  }

  /** Tells the other threads, once the current callers have run, that `topic` has ready
   * messages. */
  notify(topic: Topic): void {
    this.#ready.add(topic);
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#closed) return;
    this.#channel.postMessage([...this.#ready]);
    this.#ready.clear();
  }

  close(): void {
    this.#closed = true;
    this.#channel.close();
  }
}
