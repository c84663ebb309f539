/**
 * The console's API clients panel: lists the clients (`/admin/v1/clients`), their callback
 * hosts, rate limits, and when their keys and secrets end. Never a key or a secret: the admin
 * API does not have them to show. Read on sign-in and every 10 s.
 */
import { $ } from './dom.js';
import { api, signedIn, statusOf } from './session.js';

/** @typedef {{ prefix?: string, expires_at: string | null }} Credential */
/**
 * @typedef {object} ClientView One client of `GET /admin/v1/clients`.
 * @property {string} name
 * @property {string[]} callback_hosts
 * @property {number | null} rate_limit_per_sec
 * @property {Credential[]} api_keys
 * @property {Credential[]} webhook_secrets
 */

const CLIENTS_POLL_MS = 10000;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let clientsTimer;

export function startClients() {
  stopClients();
  void pollClients();
}

export function stopClients() {
  clearTimeout(clientsTimer);
  clientsTimer = undefined;
}

/**
 * How many never end, and how many end when (the soonest).
 * @param {Credential[]} items
 */
function ending(items) {
  const live = items.filter((item) => item.expires_at === null).length;
  const ends = items.flatMap((item) => (item.expires_at === null ? [] : [item.expires_at]));
  if (ends.length === 0) return String(live);
  const soonest = ends.sort()[0];
  return live + ' (+' + ends.length + ' until ' + soonest.replace('T', ' ').slice(0, 16) + ')';
}

/** @param {ClientView[]} items */
function renderClients(items) {
  const body = $('clients');
  body.replaceChildren();
  for (const client of items) {
    const row = document.createElement('tr');
    const cells = [
      client.name,
      client.callback_hosts.join(', '),
      client.rate_limit_per_sec === null ? '–' : client.rate_limit_per_sec + '/s',
      client.api_keys.map((key) => key.prefix + '…').join(' '),
      ending(client.api_keys),
      ending(client.webhook_secrets),
    ];
    for (const [index, text] of cells.entries()) {
      const cell = document.createElement('td');
      if (index === 4 || index === 5) cell.className = 'n';
      cell.textContent = text;
      row.append(cell);
    }
    row.dataset.client = client.name;
    body.append(row);
  }
  $('clients-empty').hidden = items.length > 0;
}

async function pollClients() {
  clearTimeout(clientsTimer);
  try {
    /** @type {{ items: ClientView[] }} */
    const view = await api('GET', '/admin/v1/clients');
    if (!signedIn()) return;
    renderClients(view.items);
  } catch (error) {
    if (statusOf(error) === 401) return;
  }
  clientsTimer = setTimeout(() => void pollClients(), CLIENTS_POLL_MS);
}
