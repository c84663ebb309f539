/**
 * How the console writes numbers, durations and times: one place, so every tile, table and
 * chart axis reads the same.
 */

/** @param {number | null | undefined} n */
export const fmtInt = (n) =>
  n === null || n === undefined ? '–' : Math.round(n).toLocaleString('en-US');

/** @param {number | null} n */
export const fmtRate = (n) => (n === null ? '–' : n < 10 ? n.toFixed(1) : fmtInt(n));

/** @param {number | null} n */
export const fmtPercent = (n) =>
  n === null ? '–' : (n * 100).toFixed(n >= 0.999 || n === 0 ? 0 : 1) + ' %';

/**
 * Seconds as milliseconds, with the precision a reader can use.
 * @param {number | null | undefined} seconds
 */
export function fmtMs(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  const ms = seconds * 1000;
  return (ms < 1 ? ms.toFixed(2) : ms < 10 ? ms.toFixed(1) : fmtInt(ms)) + ' ms';
}

/** @param {number} seconds */
export function fmtAge(seconds) {
  if (!seconds) return '–';
  if (seconds < 60) return seconds.toFixed(seconds < 10 ? 1 : 0) + ' s';
  if (seconds < 3600) return Math.floor(seconds / 60) + ' m ' + Math.floor(seconds % 60) + ' s';
  return Math.floor(seconds / 3600) + ' h ' + Math.floor((seconds % 3600) / 60) + ' m';
}

/** @param {string | null | undefined} iso */
export function fmtTime(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  /** @type {(n: number, w?: number) => string} */
  const pad = (n, w) => String(n).padStart(w || 2, '0');
  return (
    pad(d.getHours()) +
    ':' +
    pad(d.getMinutes()) +
    ':' +
    pad(d.getSeconds()) +
    '.' +
    pad(d.getMilliseconds(), 3)
  );
}

/**
 * Clock time for an axis: seconds only when the range is short.
 * @param {number} ms
 * @param {boolean} withSeconds
 */
export function fmtClock(ms, withSeconds) {
  const d = new Date(ms);
  /** @param {number} n */
  const pad = (n) => String(n).padStart(2, '0');
  return (
    pad(d.getHours()) + ':' + pad(d.getMinutes()) + (withSeconds ? ':' + pad(d.getSeconds()) : '')
  );
}
