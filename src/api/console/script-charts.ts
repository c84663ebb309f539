/**
 * Browser code (plain ES2020, no build step): number formatting, histogram quantiles and a
 * small line chart on <canvas>. Concatenated with `script-app.ts` into `/console/app.js`.
 * It lives in a string, so keep it free of backticks and template placeholders.
 */
export const CHARTS_JS = String.raw`
const COLORS = { accepted: '#2563eb', decided: '#16a34a', p50: '#7c3aed', p99: '#d97706' };

const fmtInt = (n) => (n === null || n === undefined ? '–' : Math.round(n).toLocaleString('en-US'));
const fmtRate = (n) => (n === null ? '–' : n < 10 ? n.toFixed(1) : fmtInt(n));
const fmtPercent = (n) => (n === null ? '–' : (n * 100).toFixed(n >= 0.999 || n === 0 ? 0 : 1) + ' %');

/** Seconds as milliseconds, with the precision a reader can use. */
function fmtMs(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  const ms = seconds * 1000;
  return (ms < 1 ? ms.toFixed(2) : ms < 10 ? ms.toFixed(1) : fmtInt(ms)) + ' ms';
}

function fmtAge(seconds) {
  if (!seconds) return '–';
  if (seconds < 60) return seconds.toFixed(seconds < 10 ? 1 : 0) + ' s';
  if (seconds < 3600) return Math.floor(seconds / 60) + ' m ' + Math.floor(seconds % 60) + ' s';
  return Math.floor(seconds / 3600) + ' h ' + Math.floor((seconds % 3600) / 60) + ' m';
}

function fmtTime(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  const pad = (n, w) => String(n).padStart(w || 2, '0');
  return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()) + '.' + pad(d.getMilliseconds(), 3);
}

/**
 * The q-quantile of the observations between two cumulative histogram snapshots, linearly
 * interpolated inside the bucket (as Prometheus' histogram_quantile). Null without
 * observations or across a counter reset; the largest finite bound when it falls in +Inf.
 */
function quantileBetween(q, older, newer) {
  if (older.le.length !== newer.le.length) return null;
  const total = newer.count - older.count;
  if (!(total > 0)) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (let i = 0; i < newer.le.length; i += 1) {
    const count = newer.counts[i] - older.counts[i];
    if (count < lowerCount) return null;
    if (count >= rank) {
      const inBucket = count - lowerCount;
      const fraction = inBucket > 0 ? (rank - lowerCount) / inBucket : 1;
      return lowerBound + (newer.le[i] - lowerBound) * fraction;
    }
    lowerBound = newer.le[i];
    lowerCount = count;
  }
  return lowerBound;
}

const fmtAxis = (v) => (v >= 10 || Number.isInteger(v) ? fmtInt(v) : String(Number(v.toFixed(2))));

/** 1, 2 or 5 times a power of ten, at least v: readable axis maxima. */
function niceCeil(v) {
  const power = Math.pow(10, Math.floor(Math.log10(v)));
  const m = v / power;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * power;
}

/**
 * Draws series of { t, v } points (v null = gap) over the window ending at 'now', sized to the
 * canvas' CSS box at the device's pixel ratio, so lines stay sharp.
 */
function drawChart(canvas, series, options) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const left = 52;
  const right = 8;
  const top = 8;
  const bottom = 22;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const from = options.now - options.windowMs;
  let max = 0;
  for (const s of series) for (const p of s.points) if (p.v !== null && p.t >= from) max = Math.max(max, p.v);
  max = niceCeil(Math.max(max, options.floor));

  ctx.font = '11px system-ui, sans-serif';
  ctx.lineWidth = 1;
  ctx.textBaseline = 'middle';
  // Five divisions: a 1, 2 or 5 maximum then gives round labels (0.2, 0.4, 4, 20, …).
  for (let i = 0; i <= 5; i += 1) {
    const y = Math.round(top + (plotH * i) / 5) + 0.5;
    ctx.strokeStyle = i === 5 ? '#cbd5e1' : '#eef0f3';
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(left + plotW, y);
    ctx.stroke();
    ctx.fillStyle = '#6b7280';
    ctx.textAlign = 'right';
    ctx.fillText(fmtAxis(max * (1 - i / 5)), left - 8, y);
  }
  ctx.textBaseline = 'top';
  const ticks = options.windowMs / 30000;
  for (let i = 0; i <= ticks; i += 1) {
    const x = left + (plotW * i) / ticks;
    const secondsAgo = (options.windowMs / 1000) * (1 - i / ticks);
    ctx.textAlign = i === 0 ? 'left' : i === ticks ? 'right' : 'center';
    ctx.fillText(secondsAgo === 0 ? 'now' : '-' + secondsAgo + ' s', x, top + plotH + 6);
  }

  ctx.lineWidth = 2;
  ctx.lineJoin = 'round';
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.beginPath();
    let drawing = false;
    for (const p of s.points) {
      if (p.t < from || p.v === null) {
        drawing = false;
        continue;
      }
      const x = left + ((p.t - from) / options.windowMs) * plotW;
      const y = top + plotH - (p.v / max) * plotH;
      if (drawing) ctx.lineTo(x, y);
      else ctx.moveTo(x, y);
      drawing = true;
    }
    ctx.stroke();
  }
}
`;
