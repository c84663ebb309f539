/**
 * The live figures of this process: polls `/admin/v1/stats` every second and shows totals,
 * current rates, callback success over the last minute, the circuit and the queues. Rates come
 * from consecutive snapshots kept in the page, so they start with the page.
 */
import { $, cell, setStatus, setText } from './dom.js';
import { fmtAge, fmtInt, fmtPercent, fmtRate, fmtTime } from './format.js';
import { DECISIONS, api, rejected, messageOf, signedIn, statusOf } from './session.js';

const POLL_MS = 1000;
/** Snapshots are kept this long: the callback success tile reads the last minute. */
const SUCCESS_WINDOW_MS = 60000;
const KEEP_MS = SUCCESS_WINDOW_MS + 5000;

/** @typedef {{ depth: number, oldest_age_seconds: number, dead_letters: number }} QueueStats */
/**
 * @typedef {object} StatsView The answer of `GET /admin/v1/stats`: counters since the start.
 * @property {string} at
 * @property {number} accepted
 * @property {Record<string, number>} decisions
 * @property {Record<string, number>} callback_attempts
 * @property {number} authorizations_in_flight
 * @property {Record<string, QueueStats>} queues
 * @property {'closed' | 'half_open' | 'open' | null} circuit
 */
/** @typedef {{ t: number, s: StatsView }} Snapshot */

/** @type {Snapshot[]} */
let snapshots = [];
/** @type {ReturnType<typeof setTimeout> | undefined} */
let pollTimer;

/** @param {Record<string, number> | number[]} record */
export const sum = (record) => Object.values(record).reduce((a, b) => a + b, 0);

export function startStats() {
  clearTimeout(pollTimer);
  void poll();
}

export function stopStats() {
  clearTimeout(pollTimer);
  snapshots = [];
}

async function poll() {
  try {
    /** @type {StatsView} */
    const stats = await api('GET', '/admin/v1/stats');
    if (!signedIn()) return;
    snapshots.push({ t: Date.parse(stats.at), s: stats });
    const oldest = snapshots[snapshots.length - 1].t - KEEP_MS;
    while (snapshots.length > 2 && snapshots[0].t < oldest) snapshots.shift();
    render(stats);
    setStatus('live', 'Live · ' + fmtTime(stats.at).slice(0, 8));
  } catch (error) {
    if (statusOf(error) === 401) return rejected('The admin token was rejected.');
    setStatus('failing', 'Not updating: ' + messageOf(error));
  } finally {
    if (signedIn()) pollTimer = setTimeout(poll, POLL_MS);
  }
}

/**
 * Per-second rates between consecutive snapshots; null across a counter reset.
 * @param {(stats: StatsView) => number} read
 */
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

/**
 * The snapshot at least 'windowMs' older than snapshots[index], or the oldest one.
 * @param {number} index
 * @param {number} windowMs
 */
function baseline(index, windowMs) {
  let j = index;
  while (j > 0 && snapshots[index].t - snapshots[j].t < windowMs) j -= 1;
  return j === index ? null : snapshots[j];
}

/** @param {{ v: number | null }[]} points */
const last = (points) => (points.length ? points[points.length - 1].v : null);

/** @param {StatsView} stats */
function render(stats) {
  const n = snapshots.length - 1;
  /** @param {StatsView} s */
  const decided = (s) => sum(s.decisions);
  const accepted = rateSeries((s) => s.accepted);
  const decidedRate = rateSeries(decided);
  setText('accepted-total', fmtInt(stats.accepted));
  setText('accepted-rate', fmtRate(last(accepted)));
  setText('decided-total', fmtInt(decided(stats)));
  setText('decided-rate', fmtRate(last(decidedRate)));
  setText('auth-in-flight', fmtInt(stats.authorizations_in_flight));

  renderCallbacks(stats, n > 0 ? baseline(n, SUCCESS_WINDOW_MS) : null);
  setText(
    'dead-letter-count',
    fmtInt(stats.queues.callbacks ? stats.queues.callbacks.dead_letters : 0),
  );
  const circuit = $('circuit');
  circuit.textContent = stats.circuit ? stats.circuit.replace('_', ' ') : 'no worker here';
  circuit.className = 'big circuit ' + (stats.circuit || 'none');
  renderDecisions(stats.decisions);
  renderQueues(stats.queues);
}

/**
 * Success = delivered among finished attempts (deferrals are not attempts).
 * @param {StatsView} stats
 * @param {Snapshot | null} base
 */
function renderCallbacks(stats, base) {
  const c = stats.callback_attempts;
  const b = base ? base.s.callback_attempts : null;
  /** @param {Record<string, number>} x */
  const finished = (x) => x.delivered + x.failed + x.gone;
  const attempts = b ? finished(c) - finished(b) : 0;
  const failed = b ? c.failed + c.gone - b.failed - b.gone : 0;
  setText(
    'callback-success',
    b && attempts > 0 ? fmtPercent((c.delivered - b.delivered) / attempts) : '–',
  );
  setText(
    'callback-failed',
    attempts > 0 ? fmtInt(failed) + ' failed · last minute' : 'none in the last minute',
  );
}

/** @param {Record<string, number>} decisions */
function renderDecisions(decisions) {
  const list = $('decisions');
  const total = sum(decisions);
  const names = DECISIONS.concat(Object.keys(decisions).filter((d) => !DECISIONS.includes(d)));
  for (const name of names) {
    /** @type {HTMLElement | null} */
    let row = list.querySelector('[data-decision="' + name + '"]');
    if (!row) {
      row = document.createElement('li');
      row.dataset.decision = name;
      const label = document.createElement('span');
      label.className = 'name';
      label.textContent = name.replace('_', ' ');
      const track = document.createElement('span');
      track.className = 'track';
      const fill = document.createElement('span');
      fill.className = 'fill d-' + name;
      track.append(fill);
      const count = document.createElement('span');
      count.className = 'count';
      count.dataset.testid = 'decision-' + name;
      row.append(label, track, count);
      list.appendChild(row);
    }
    const count = decisions[name] || 0;
    const share = total > 0 ? count / total : 0;
    const [, track, counted] = row.children;
    /** @type {HTMLElement} */ (track.firstElementChild).style.width =
      (share * 100).toFixed(1) + '%';
    counted.textContent = fmtInt(count) + (total > 0 ? ' · ' + fmtPercent(share) : '');
  }
}

/** @param {Record<string, QueueStats>} queues */
function renderQueues(queues) {
  const body = $('queues');
  body.replaceChildren();
  for (const topic of Object.keys(queues)) {
    const q = queues[topic];
    const depth = cell(fmtInt(q.depth), 'n');
    depth.dataset.testid = 'queue-' + topic + '-depth';
    const row = document.createElement('tr');
    row.append(
      cell(topic),
      depth,
      cell(fmtAge(q.oldest_age_seconds), 'n'),
      cell(fmtInt(q.dead_letters), 'n'),
    );
    body.appendChild(row);
  }
}
