/**
 * Browser code of the console's history: reads `/admin/v1/history` for the selected range at
 * the interval it names, and draws the charts and the latency tiles from it. Every figure here
 * comes from the store, so it shows what happened before the page was opened, in every
 * process. Free of backticks and template placeholders (it lives in a string).
 */
export const HISTORY_JS = String.raw`
// ---- history ----

const RANGE_KEY = 'chargegate.range';
const RANGE_LABELS = { '15m': 'last 15 minutes', '1h': 'last hour', '6h': 'last 6 hours', '24h': 'last 24 hours' };
let range = sessionStorage.getItem(RANGE_KEY) || '15m';
let history = null;
let historyTimer = null;
/** Bumped by every new request, so an older answer arriving late is dropped. */
let historyGeneration = 0;

function startHistory() {
  stopHistory();
  markRange();
  void refreshHistory();
}

function stopHistory() {
  clearTimeout(historyTimer);
  historyGeneration += 1;
}

function selectRange(next) {
  if (!RANGE_LABELS[next] || next === range) return;
  range = next;
  sessionStorage.setItem(RANGE_KEY, range);
  startHistory();
}

function markRange() {
  for (const button of document.querySelectorAll('[data-range]')) {
    const on = button.dataset.range === range;
    button.setAttribute('aria-pressed', on ? 'true' : 'false');
    button.classList.toggle('on', on);
  }
}

async function refreshHistory() {
  const generation = ++historyGeneration;
  let delayMs = 5000;
  try {
    const view = await api('GET', '/admin/v1/history', { query: { range } });
    if (generation !== historyGeneration || !token) return;
    history = view;
    delayMs = view.refresh_seconds * 1000;
    renderHistory();
  } catch (error) {
    if (generation !== historyGeneration) return;
    if (error.status === 401) return signOut('The admin token was rejected.');
    $('history-note').textContent = 'History not updating: ' + error.message;
  }
  if (token && generation === historyGeneration) historyTimer = setTimeout(refreshHistory, delayMs);
}

const rate = (count, b) => count / b.seconds;
const fmtBucket = (seconds) => (seconds < 60 ? seconds + ' s' : seconds / 60 + ' min');
const decidedIn = (b) => sum(b.decided);

/** A p50/p99 pair of series, in ms, from one latency histogram per bucket. */
function quantileSeries(read) {
  const bounds = history.latency_bounds_ms;
  const points = (q) => history.buckets.map((b) => ({ t: Date.parse(b.start), v: quantileOf(q, read(b), bounds) }));
  return [{ color: COLORS.p50, points: points(0.5) }, { color: COLORS.p99, points: points(0.99) }];
}

function latencyTile(name, read) {
  const counts = mergeCounts(history.buckets.map(read));
  const bounds = history.latency_bounds_ms;
  const ms = (q) => { const v = quantileOf(q, counts, bounds); return v === null ? null : v / 1000; };
  setText(name + '-p50', fmtMs(ms(0.5)));
  setText(name + '-p99', fmtMs(ms(0.99)));
}

function series(color, read) {
  return { color, points: history.buckets.map((b) => ({ t: Date.parse(b.start), v: read(b) })) };
}

/** What a chart shows, also as attributes: a reader (or a test) can check it without pixels. */
function describe(canvas, label, totals) {
  canvas.setAttribute('aria-label', label);
  for (const [name, value] of Object.entries(totals)) canvas.dataset[name] = String(value);
}

function renderHistory() {
  if (!history || $('dashboard').hidden) return;
  const from = Date.parse(history.from);
  const to = from + history.buckets.length * history.bucket_seconds * 1000;
  const frame = { from, to, bucketMs: history.bucket_seconds * 1000, floor: 1 };
  const b = history.buckets;
  const total = (read) => b.reduce((n, x) => n + read(x), 0);
  const accepted = total((x) => x.accepted);
  const decided = total(decidedIn);
  const label = RANGE_LABELS[history.range];
  $('history-note').textContent = 'From the store, ' + label + ' by ' + fmtBucket(history.bucket_seconds) + ': ' + fmtInt(accepted) + ' accepted, ' + fmtInt(decided) + ' decided.';

  drawChart($('chart-throughput'), [series(COLORS.accepted, (x) => rate(x.accepted, x)), series(COLORS.decided, (x) => rate(decidedIn(x), x))], frame);
  describe($('chart-throughput'), 'Throughput, ' + label + ': ' + fmtInt(accepted) + ' accepted, ' + fmtInt(decided) + ' decided', { accepted, decided });

  const mix = DECISIONS.filter((d) => d !== 'unknown').map((d) => series(COLORS[d], (x) => rate(x.decided[d] || 0, x)));
  // Unknown first, so it sits on the baseline in its own colour, never hidden in the stack.
  mix.unshift(series(COLORS.unknown, (x) => rate(x.decided.unknown || 0, x)));
  drawChart($('chart-decisions'), mix, Object.assign({ stacked: true }, frame));
  const unknown = total((x) => x.decided.unknown || 0);
  describe($('chart-decisions'), 'Decisions, ' + label + ': ' + fmtInt(unknown) + ' unknown of ' + fmtInt(decided), { decided, unknown });

  drawChart($('chart-latency'), quantileSeries((x) => x.accept_ms), frame);
  const acks = total((x) => sum(x.accept_ms));
  describe($('chart-latency'), 'POST to 202, ' + label + ', ' + fmtInt(acks) + ' requests', { count: acks });
  latencyTile('ack', (x) => x.accept_ms);

  drawChart($('chart-callback-latency'), quantileSeries((x) => x.callback_ms), frame);
  const delivered = total((x) => x.delivered);
  describe($('chart-callback-latency'), 'POST to delivered callback, ' + label + ', ' + fmtInt(delivered) + ' callbacks', { count: delivered });
  latencyTile('callback', (x) => x.callback_ms);
  latencyTile('auth', (x) => x.authorization_ms);

  const retried = total((x) => x.retried);
  const dead = total((x) => x.dead_lettered);
  drawChart($('chart-callbacks'), [series(COLORS.decided, (x) => rate(x.delivered, x)), series(COLORS.p99, (x) => rate(x.retried, x)), series(COLORS.dead, (x) => rate(x.dead_lettered, x))], frame);
  describe($('chart-callbacks'), 'Callbacks, ' + label + ': ' + fmtInt(delivered) + ' delivered, ' + fmtInt(retried) + ' retries, ' + fmtInt(dead) + ' dead-lettered', { delivered, retried, deadLettered: dead });

  const backlog = b.length ? b[b.length - 1].backlog : 0;
  const peak = b.reduce((n, x) => Math.max(n, x.backlog), 0);
  drawChart($('chart-backlog'), [series(COLORS.accepted, (x) => x.backlog)], frame);
  describe($('chart-backlog'), 'Backlog, ' + label + ': ' + fmtInt(backlog) + ' now, at most ' + fmtInt(peak), { now: backlog, peak });
}
`;
