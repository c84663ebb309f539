import { resolve } from 'node:path';
import { BroadcastChannel } from 'node:worker_threads';
import type { Topic } from './port.js';

/**
 * Wakes the receives waiting in the other threads of this process that have the same SQLite
 * queue file open, as soon as a topic has new ready messages: `start` accepts on its main
 * thread, decides on one worker thread and delivers on another, and without this each hand-over
 * waited for the next poll (`pollIntervalMs`). Other processes on the file still poll.
 *
 * The topics made ready during one turn of the event loop go out as one message, after the
 * turn's group commit: one post per turn, however many messages the turn published.
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

  /** Tells the other threads, at the end of this turn, that `topic` has ready messages. */
  notify(topic: Topic): void {
    this.#ready.add(topic);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#flush());
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
