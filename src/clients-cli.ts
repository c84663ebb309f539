import { parseArgs } from 'node:util';
import { parseDuration, type Config } from './config/config.js';
import { openClientStore } from './wiring/adapters.js';
import {
  changeClient,
  clientInputErrors,
  clientView,
  createClient,
  rotateKey,
  rotateSecret,
  type ClientInput,
} from './clients/manage.js';

export const CLIENTS_USAGE = `Usage:
  chargegate clients list                                      one JSON line per client
  chargegate clients create <name> --hosts H[,H…] [--rate N]   prints its API key and webhook secret, once
  chargegate clients update <name> [--hosts H[,H…]] [--rate N|none]
  chargegate clients rotate-key <name> [--overlap 24h]         a new key; the old ones work for the overlap
  chargegate clients rotate-secret <name> [--overlap 24h]      a new webhook secret; both sign meanwhile
  chargegate clients delete <name>                             its keys stop working at once

Hosts are exact host names or *.suffix. With at least one client, the public API needs
"Authorization: Bearer <API key>". Works on the configured store (DATA_DIR, or DATABASE_URL)
directly, so it needs no running API; API processes see a change within a few seconds. The
admin API offers the same under /admin/v1/clients.`;

const write = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);
const fail = (message: string) => {
  process.stderr.write(`${message}\n`);
  return 1;
};

/** Runs `chargegate clients …`; returns the exit code. */
export async function runClients(args: string[], config: Config): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      hosts: { type: 'string' },
      rate: { type: 'string' },
      overlap: { type: 'string' },
    },
  });
  const [action, name, ...extra] = positionals;
  const known = ['list', 'create', 'update', 'rotate-key', 'rotate-secret', 'delete'];
  if (action === undefined || !known.includes(action) || extra.length > 0) {
    return fail(CLIENTS_USAGE);
  }
  if (action !== 'list' && name === undefined) return fail(CLIENTS_USAGE);
  const input: ClientInput = {
    ...(name === undefined ? {} : { name }),
    ...(values.hosts === undefined ? {} : { callback_hosts: values.hosts.split(',') }),
    ...(values.rate === undefined
      ? {}
      : { rate_limit_per_sec: values.rate === 'none' ? null : Number(values.rate) }),
  };
  const overlapMs = values.overlap === undefined ? undefined : parseDuration(values.overlap);
  if (overlapMs === null) return fail('--overlap: expected a duration like 30m, 24h or 7d');
  if (action === 'create' || action === 'update') {
    const errors = clientInputErrors(input, action === 'update');
    if (errors.length > 0) return fail(errors.map((e) => `${e.field}: ${e.message}`).join('\n'));
  }
  const store = await openClientStore(config);
  try {
    const target = name ?? '';
    switch (action) {
      case 'list':
        for (const client of await store.list()) write(clientView(client));
        return 0;
      case 'create': {
        const created = await createClient(store, input);
        if (created === null) return fail(`a client named ${target} exists already`);
        write({
          client: clientView(created.client),
          api_key: created.apiKey,
          webhook_secret: created.webhookSecret,
        });
        return 0;
      }
      case 'update': {
        const changed = await changeClient(store, target, input);
        if (changed === null) return fail(`no client named ${target}`);
        write(clientView(changed));
        return 0;
      }
      case 'rotate-key': {
        const rotated = await rotateKey(store, target, overlapMs);
        if (rotated === null) return fail(`no client named ${target}`);
        write({ client: clientView(rotated.client), api_key: rotated.apiKey });
        return 0;
      }
      case 'rotate-secret': {
        const rotated = await rotateSecret(store, target, overlapMs);
        if (rotated === null) return fail(`no client named ${target}`);
        write({ client: clientView(rotated.client), webhook_secret: rotated.webhookSecret });
        return 0;
      }
      default: {
        if (!(await store.remove(target))) return fail(`no client named ${target}`);
        write({ deleted: target });
        return 0;
      }
    }
  } finally {
    await store.close();
  }
}
