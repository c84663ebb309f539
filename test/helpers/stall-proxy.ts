import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface StallProxy {
  /** `host:port` the proxy listens on. */
  port: number;
  /** Holds every byte in both directions, as a paused (SIGSTOP) server looks from outside. */
  stall(): void;
  /** Delivers what was held, in order, and forwards again. */
  resume(): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of a real server (Redis, PostgreSQL) that a test can stall: while
 * stalled it accepts connections and bytes but forwards nothing either way, then delivers
 * everything it held when resumed. A statement sent during the stall therefore reaches the
 * server late and runs then, exactly as with a server that was paused and continued.
 */
export async function startStallProxy(target: { host: string; port: number }): Promise<StallProxy> {
  let stalled = false;
  const pairs = new Set<{ flush(): void; destroy(): void }>();
  const server: Server = createServer((client: Socket) => {
    const upstream = createConnection(target);
    const held: { to: Socket; chunk: Buffer }[] = [];
    const forward = (to: Socket) => (chunk: Buffer) => {
      if (stalled) held.push({ to, chunk });
      else to.write(chunk);
    };
    client.on('data', forward(upstream));
    upstream.on('data', forward(client));
    const pair = {
      flush() {
        for (const { to, chunk } of held.splice(0)) to.write(chunk);
      },
      destroy() {
        client.destroy();
        upstream.destroy();
      },
    };
    pairs.add(pair);
    const end = () => {
      pair.destroy();
      pairs.delete(pair);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    stall() {
      stalled = true;
    },
    resume() {
      stalled = false;
      for (const pair of pairs) pair.flush();
    },
    async close() {
      for (const pair of pairs) pair.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
