import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A fault-injecting TCP proxy on 127.0.0.1: the processes reach Redis, PostgreSQL, the
 * authorization service and the callback receiver through one each, and the suite breaks the
 * path rather than the server. Modes:
 *
 * - `pass`: bytes are forwarded both ways as they come.
 * - `latency`: every chunk, both ways, is forwarded `latencyMs` late (order kept), as a slow or
 *   distant network path.
 * - `reset`: every open connection is reset (RST) at once; a connection opened while the mode
 *   holds has its first bytes forwarded and is reset when the answer comes back, so the server
 *   did the work and the client never hears of it (the nastiest moment for a reset).
 * - `blackhole`: connections are accepted and their bytes taken, but nothing is forwarded or
 *   answered; reading stops, so TCP's flow control holds the rest in the kernels' buffers. On
 *   healing, everything held flows again, as a partition that heals lets TCP's retransmissions
 *   through. A client that gave up meanwhile has closed its side; that close flows too.
 *
 * `close()` stops listening (new connections are refused) and cuts every connection, for
 * faults where the server behind it is down: the address then refuses, as the server's would.
 */
export type ProxyMode = 'pass' | 'latency' | 'reset' | 'blackhole';

/** A connection through the proxy: the client's socket and the one to the server. */
interface Pair {
  client: Socket;
  server: Socket | null;
  /** Set while held by a black hole: reading is paused on both sides. */
  held: boolean;
  /** What is on its way to each side, in order (latency delays it). */
  toClient: Lane;
  toServer: Lane;
}

/**
 * One direction of a connection: steps run in the order they were queued, each no earlier
 * than its due time, so chunks delayed before latency was turned off still arrive first.
 */
class Lane {
  readonly #steps: { at: number; step: () => void }[] = [];
  #timer: NodeJS.Timeout | null = null;

  push(delayMs: number, step: () => void): void {
    if (delayMs <= 0 && this.#steps.length === 0) {
      step();
      return;
    }
    this.#steps.push({ at: Date.now() + delayMs, step });
    this.#arm();
  }

  #arm(): void {
    const head = this.#steps[0];
    if (this.#timer !== null || head === undefined) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = null;
        while (this.#steps.length > 0 && (this.#steps[0]?.at ?? 0) <= Date.now()) {
          this.#steps.shift()?.step();
        }
        this.#arm();
      },
      Math.max(0, head.at - Date.now()),
    );
  }
}

export class FaultProxy {
  #server: Server | null = null;
  #mode: ProxyMode = 'pass';
  readonly #pairs = new Set<Pair>();
  port = 0;
  latencyMs = 200;

  constructor(
    readonly name: string,
    readonly targetPort: number,
    readonly targetHost = '127.0.0.1',
  ) {}

  get mode(): ProxyMode {
    return this.#mode;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async listen(): Promise<void> {
    if (this.#server !== null) return;
    const server = createServer({ noDelay: true }, (client) => this.#accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Refuses new connections and cuts the open ones (the server behind it is down). */
  async close(): Promise<void> {
    const server = this.#server;
    if (server === null) return;
    this.#server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const pair of this.#pairs) this.#destroy(pair, false);
    await closed;
  }

  setMode(mode: ProxyMode): void {
    const previous = this.#mode;
    this.#mode = mode;
    if (mode === 'reset') {
      for (const pair of this.#pairs) this.#destroy(pair, true);
    }
    if (mode === 'blackhole') {
      for (const pair of this.#pairs) this.#hold(pair);
    }
    if (previous === 'blackhole' && mode !== 'blackhole') {
      for (const pair of this.#pairs) this.#release(pair);
    }
  }

  #accept(client: Socket): void {
    const pair: Pair = {
      client,
      server: null,
      held: false,
      toClient: new Lane(),
      toServer: new Lane(),
    };
    this.#pairs.add(pair);
    client.on('error', () => this.#destroy(pair, false));
    client.on('close', () => this.#pairs.delete(pair));
    if (this.#mode === 'blackhole') {
      // Taken, not answered: the server is reached only when the hole heals.
      this.#hold(pair);
      return;
    }
    this.#connect(pair);
  }

  #connect(pair: Pair): void {
    const { client } = pair;
    const server = connect({ port: this.targetPort, host: this.targetHost, noDelay: true });
    pair.server = server;
    server.on('error', (error: NodeJS.ErrnoException) => {
      // The server refuses or resets: the client sees a reset, the nearest a proxy can say.
      this.#destroy(pair, error.code === 'ECONNREFUSED' || error.code === 'ECONNRESET');
    });
    server.on('close', () => this.#send(pair.toClient, client, null));
    client.on('end', () => this.#send(pair.toServer, server, null));
    server.on('end', () => this.#send(pair.toClient, client, null));
    client.on('data', (chunk: Buffer) => this.#send(pair.toServer, server, chunk));
    server.on('data', (chunk: Buffer) => {
      if (this.#mode === 'reset') {
        // The server did the work; its answer is lost with the connection.
        this.#destroy(pair, true);
        return;
      }
      this.#send(pair.toClient, client, chunk);
    });
    if (pair.held) this.#pause(pair);
  }

  /** Forwards a chunk (or, for `null`, the end of the stream), late in `latency` mode. */
  #send(lane: Lane, to: Socket, chunk: Buffer | null): void {
    lane.push(this.#mode === 'latency' ? this.latencyMs : 0, () => {
      if (to.destroyed) return;
      if (chunk === null) to.end();
      else to.write(chunk);
    });
  }

  #hold(pair: Pair): void {
    pair.held = true;
    this.#pause(pair);
  }

  #pause(pair: Pair): void {
    pair.client.pause();
    pair.server?.pause();
  }

  #release(pair: Pair): void {
    pair.held = false;
    if (pair.client.destroyed) {
      pair.server?.destroy();
      return;
    }
    if (pair.server === null) this.#connect(pair);
    pair.client.resume();
    pair.server?.resume();
  }

  #destroy(pair: Pair, reset: boolean): void {
    for (const socket of [pair.client, pair.server]) {
      if (socket === null || socket.destroyed) continue;
      if (reset) socket.resetAndDestroy();
      else socket.destroy();
    }
    this.#pairs.delete(pair);
  }
}
