/**
 * Histogram quantiles and a small line or stacked-bar chart on `<canvas>`: all the console
 * needs, without a charting library.
 */
import { fmtClock, fmtInt } from './format.js';

/** Series colours; the style sheet's legend uses the same. */
export const COLORS = {
  accepted: '#2563eb',
  decided: '#16a34a',
  p50: '#7c3aed',
  p99: '#d97706',
  dead: '#dc2626',
  allowed: '#86efac',
  not_allowed: '#fca5a5',
  invalid: '#fcd34d',
  unknown: '#c026d3',
};

/** @typedef {{ t: number, v: number | null }} Point One value at a time (ms); null is a gap. */
/** @typedef {{ color: string, points: Point[] }} Series */
/**
 * @typedef {object} Frame What a chart spans.
 * @property {number} from Start of the range, ms.
 * @property {number} to End of the range, ms.
 * @property {number} bucketMs Width of one bucket, ms.
 * @property {number} floor The smallest maximum of the value axis.
 * @property {boolean} [stacked] Bars of one bucket each, the series stacked from the bottom.
 */

/**
 * The q-quantile (in ms) of a histogram of counts per bound ('bounds' ascending, one more count
 * above the last), linearly interpolated inside its bucket as Prometheus' histogram_quantile
 * does. Null without observations; the last bound when it falls above it.
 * @param {number} q
 * @param {number[]} counts
 * @param {number[]} bounds
 * @returns {number | null}
 */
export function quantileOf(q, counts, bounds) {
  const total = counts.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < bounds.length; i += 1) {
    const count = counts[i] || 0;
    if (below + count >= rank && count > 0) {
      const lower = i === 0 ? 0 : bounds[i - 1];
      return lower + (bounds[i] - lower) * ((rank - below) / count);
    }
    below += count;
  }
  return bounds[bounds.length - 1];
}

/**
 * Adds histograms of equal length.
 * @param {number[][]} list
 */
export function mergeCounts(list) {
  /** @type {number[]} */
  const out = [];
  for (const counts of list)
    counts.forEach((c, i) => {
      out[i] = (out[i] || 0) + c;
    });
  return out;
}

/** @param {number} v */
const fmtAxis = (v) => (v >= 10 || Number.isInteger(v) ? fmtInt(v) : String(Number(v.toFixed(2))));

/**
 * 1, 2 or 5 times a power of ten, at least v: readable axis maxima.
 * @param {number} v
 */
function niceCeil(v) {
  const power = Math.pow(10, Math.floor(Math.log10(v)));
  const m = v / power;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * power;
}

/**
 * Sizes the canvas to its CSS box at the device's pixel ratio, so lines stay sharp.
 * @param {HTMLCanvasElement} canvas
 */
function prepareCanvas(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('console: no 2D canvas context');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  return { ctx, width, height };
}

/**
 * Draws series over [from, to]: lines of { t, v } points (v null = gap), or, with 'stacked',
 * bars of one bucket each, the series stacked in order from the bottom.
 * @param {HTMLCanvasElement} canvas
 * @param {Series[]} series
 * @param {Frame} options
 */
export function drawChart(canvas, series, options) {
  const { ctx, width, height } = prepareCanvas(canvas);
  const left = 52;
  const top = 8;
  const plotW = width - left - 8;
  const plotH = height - top - 22;
  const span = options.to - options.from;
  /** @param {number} t */
  const xOf = (t) => left + ((t - options.from) / span) * plotW;
  let max = 0;
  const n = series.length ? series[0].points.length : 0;
  for (let i = 0; i < n; i += 1) {
    let stack = 0;
    for (const s of series) {
      const v = s.points[i].v;
      if (v === null) continue;
      stack = options.stacked ? stack + v : Math.max(stack, v);
    }
    max = Math.max(max, stack);
  }
  max = niceCeil(Math.max(max, options.floor));
  /** @param {number} v */
  const yOf = (v) => top + plotH - (v / max) * plotH;

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
  for (let i = 0; i <= 4; i += 1) {
    const t = options.from + (span * i) / 4;
    ctx.textAlign = i === 0 ? 'left' : i === 4 ? 'right' : 'center';
    ctx.fillText(i === 4 ? 'now' : fmtClock(t, span <= 3600000), xOf(t), top + plotH + 6);
  }

  if (options.stacked) {
    const w = Math.max(1, (options.bucketMs / span) * plotW - 1);
    for (let i = 0; i < n; i += 1) {
      let base = 0;
      for (const s of series) {
        const v = s.points[i].v || 0;
        if (v <= 0) continue;
        ctx.fillStyle = s.color;
        const y0 = yOf(base);
        const y1 = yOf(base + v);
        ctx.fillRect(xOf(s.points[i].t), y1, w, Math.max(1, y0 - y1));
        base += v;
      }
    }
    return;
  }
  ctx.lineWidth = 2;
  ctx.lineJoin = 'round';
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.beginPath();
    let drawing = false;
    for (const p of s.points) {
      if (p.v === null) {
        drawing = false;
        continue;
      }
      const x = xOf(p.t + options.bucketMs / 2);
      if (drawing) ctx.lineTo(x, yOf(p.v));
      else ctx.moveTo(x, yOf(p.v));
      drawing = true;
    }
    ctx.stroke();
  }
}
