/**
 * Browser code of the console: sign-in, and polling `/admin/v1/stats` every second for this
 * process's live figures (totals, current rates, circuit, queues). The history charts are in
 * `script-history.ts`, the dead letters in `script-dead-letters.ts`. Data only ever reaches the
 * page through textContent, never as markup. Free of backticks and template placeholders.
 */
export const APP_JS = String.raw`
const TOKEN_KEY = 'chargegate.adminToken';
const POLL_MS = 1000;
/** Snapshots are kept this long: the callback success tile reads the last minute. */
const SUCCESS_WINDOW_MS = 60000;
const KEEP_MS = SUCCESS_WINDOW_MS + 5000;
const DECISIONS = ['allowed', 'not_allowed', 'invalid', 'unknown'];

const $ = (id) => document.getElementById(id);
const byTestId = (id) => document.querySelector('[data-testid="' + id + '"]');
const setText = (testId, text) => { byTestId(testId).textContent = text; };

let token = sessionStorage.getItem(TOKEN_KEY);
let snapshots = [];
let pollTimer = null;

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, options) {
  // The query string is built from parts the page knows, each encoded.
  if (options && options.query) path += '?' + new URLSearchParams(options.query).toString();
  const headers = { accept: 'application/json' };
  if (!(options && options.public)) headers.authorization = 'Bearer ' + token;
  const init = { method, headers, cache: 'no-store' };
  if (options && options.body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }
  const response = await fetch(path, init);
  const type = response.headers.get('content-type') || '';
  const body = type.includes('json') ? await response.json() : null;
  if (!response.ok) {
    throw new ApiError(response.status, (body && (body.detail || body.title)) || 'HTTP ' + response.status);
  }
  return body;
}

function toast(message) {
  const el = $('toast');
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, 4000);
}

function setStatus(kind, text) {
  const el = $('status');
  el.className = 'status ' + kind;
  el.textContent = text;
}

// ---- sign-in ----

function showDashboard(signedIn) {
  $('login').hidden = signedIn;
  $('dashboard').hidden = !signedIn;
  $('sign-out').hidden = !signedIn;
}

function signOut(message) {
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(pollTimer);
  stopHistory();
  stopDeadLetters();
  stopClients();
  stopStations();
  snapshots = [];
  showDashboard(false);
  setStatus('', 'Signed out');
  $('login-error').textContent = message || '';
  $('token-input').focus();
}

async function signIn(event) {
  event.preventDefault();
  token = $('token-input').value.trim();
  $('login-error').textContent = '';
  try {
    await api('GET', '/admin/v1/stats');
  } catch (error) {
    const rejected = error.status === 401;
    token = null;
    $('login-error').textContent = rejected ? 'This token was rejected.' : 'Cannot reach the admin API: ' + error.message;
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $('token-input').value = '';
  start();
}

function start() {
  showDashboard(true);
  clearTimeout(pollTimer);
  void poll();
  startHistory();
  startDeadLetters();
  startClients();
  startStations();
}

// ---- polling and derived series ----

async function poll() {
  try {
    const stats = await api('GET', '/admin/v1/stats');
    if (!token) return;
    snapshots.push({ t: Date.parse(stats.at), s: stats });
    const oldest = snapshots[snapshots.length - 1].t - KEEP_MS;
    while (snapshots.length > 2 && snapshots[0].t < oldest) snapshots.shift();
    render(stats);
    setStatus('live', 'Live · ' + fmtTime(stats.at).slice(0, 8));
  } catch (error) {
    if (error.status === 401) return signOut('The admin token was rejected.');
    setStatus('failing', 'Not updating: ' + error.message);
  } finally {
    if (token) pollTimer = setTimeout(poll, POLL_MS);
  }
}

const sum = (record) => Object.values(record).reduce((a, b) => a + b, 0);

/** Per-second rates between consecutive snapshots; null across a counter reset. */
function rateSeries(read) {
  const points = [];
  for (let i = 1; i < snapshots.length; i += 1) {
    const a = snapshots[i - 1];
    const b = snapshots[i];
    const delta = read(b.s) - read(a.s);
    const seconds = (b.t - a.t) / 1000;
    points.push({ t: b.t, v: delta >= 0 && seconds > 0 ? delta / seconds : null });
  }
  return points;
}

/** The snapshot at least 'windowMs' older than snapshots[index], or the oldest one. */
function baseline(index, windowMs) {
  let j = index;
  while (j > 0 && snapshots[index].t - snapshots[j].t < windowMs) j -= 1;
  return j === index ? null : snapshots[j];
}

const last = (points) => (points.length ? points[points.length - 1].v : null);

function render(stats) {
  const n = snapshots.length - 1;
  const decided = (s) => sum(s.decisions);
  const accepted = rateSeries((s) => s.accepted);
  const decidedRate = rateSeries(decided);
  setText('accepted-total', fmtInt(stats.accepted));
  setText('accepted-rate', fmtRate(last(accepted)));
  setText('decided-total', fmtInt(decided(stats)));
  setText('decided-rate', fmtRate(last(decidedRate)));
  setText('auth-in-flight', fmtInt(stats.authorizations_in_flight));

  renderCallbacks(stats, n > 0 ? baseline(n, SUCCESS_WINDOW_MS) : null);
  setText('dead-letter-count', fmtInt(stats.queues.callbacks ? stats.queues.callbacks.dead_letters : 0));
  const circuit = $('circuit');
  circuit.textContent = stats.circuit ? stats.circuit.replace('_', ' ') : 'no worker here';
  circuit.className = 'big circuit ' + (stats.circuit || 'none');
  renderDecisions(stats.decisions);
  renderQueues(stats.queues);
}

/** Success = delivered among finished attempts (deferrals are not attempts). */
function renderCallbacks(stats, base) {
  const c = stats.callback_attempts;
  const b = base ? base.s.callback_attempts : null;
  const finished = (x) => x.delivered + x.failed + x.gone;
  const attempts = b ? finished(c) - finished(b) : 0;
  const failed = b ? c.failed + c.gone - b.failed - b.gone : 0;
  setText('callback-success', attempts > 0 ? fmtPercent((c.delivered - b.delivered) / attempts) : '–');
  setText('callback-failed', attempts > 0 ? fmtInt(failed) + ' failed · last minute' : 'none in the last minute');
}

function renderDecisions(decisions) {
  const list = $('decisions');
  const total = sum(decisions);
  const names = DECISIONS.concat(Object.keys(decisions).filter((d) => !DECISIONS.includes(d)));
  for (const name of names) {
    let row = list.querySelector('[data-decision="' + name + '"]');
    if (!row) {
      row = document.createElement('li');
      row.dataset.decision = name;
      row.innerHTML = '<span class="name"></span><span class="track"><span class="fill"></span></span><span class="count"></span>';
      row.querySelector('.name').textContent = name.replace('_', ' ');
      row.querySelector('.fill').classList.add('d-' + name);
      row.querySelector('.count').dataset.testid = 'decision-' + name;
      list.appendChild(row);
    }
    const count = decisions[name] || 0;
    const share = total > 0 ? count / total : 0;
    row.querySelector('.fill').style.width = (share * 100).toFixed(1) + '%';
    row.querySelector('.count').textContent = fmtInt(count) + (total > 0 ? ' · ' + fmtPercent(share) : '');
  }
}

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function renderQueues(queues) {
  const body = $('queues');
  body.replaceChildren();
  for (const topic of Object.keys(queues)) {
    const q = queues[topic];
    const row = document.createElement('tr');
    row.append(cell(topic), cell(fmtInt(q.depth), 'n'), cell(fmtAge(q.oldest_age_seconds), 'n'), cell(fmtInt(q.dead_letters), 'n'));
    row.children[1].dataset.testid = 'queue-' + topic + '-depth';
    body.appendChild(row);
  }
}
`;
