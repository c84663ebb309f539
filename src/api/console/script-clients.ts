/**
 * Browser code of the console's API clients panel: lists the clients (`/admin/v1/clients`),
 * their callback hosts, rate limits, and when their keys and secrets end. Never a key or a
 * secret: the admin API does not have them to show. Read on sign-in and every 10 s. Free of
 * backticks and template placeholders.
 */
export const CLIENTS_JS = String.raw`
const CLIENTS_POLL_MS = 10000;
let clientsTimer = null;

function startClients() {
  stopClients();
  void pollClients();
}

function stopClients() {
  clearTimeout(clientsTimer);
  clientsTimer = null;
}

function ending(items) {
  const live = items.filter((item) => item.expires_at === null).length;
  const ends = items.filter((item) => item.expires_at !== null);
  if (ends.length === 0) return String(live);
  const soonest = ends.map((item) => item.expires_at).sort()[0];
  return live + ' (+' + ends.length + ' until ' + soonest.replace('T', ' ').slice(0, 16) + ')';
}

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
    const view = await api('GET', '/admin/v1/clients');
    if (!token) return;
    renderClients(view.items);
  } catch (error) {
    if (error.status === 401) return;
  }
  clientsTimer = setTimeout(() => void pollClients(), CLIENTS_POLL_MS);
}
`;
