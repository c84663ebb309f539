/**
 * Find a request: reads the public `GET /api/v1/charging-sessions/{id}`, as a driver app
 * would, and draws its timeline, from acceptance through the decision to every callback
 * attempt.
 */
import { $, $as } from './dom.js';
import { fmtInt, fmtTime } from './format.js';
import { api, messageOf, statusOf } from './session.js';

/**
 * @typedef {object} Attempt
 * @property {number} attempt
 * @property {string} started_at
 * @property {number} duration_ms
 * @property {number | null} status_code
 * @property {string | null} [error]
 * @property {string | null} [response_snippet]
 */
/**
 * @typedef {object} Callback
 * @property {'pending' | 'retrying' | 'delivered' | 'dead_lettered' | 'gone'} state
 * @property {string} url
 * @property {number} attempts
 * @property {string | null} [delivered_at]
 * @property {string | null} [last_attempt_at]
 * @property {string | null} [next_attempt_at]
 * @property {Attempt[]} history
 */
/**
 * @typedef {object} SessionView The answer of `GET /api/v1/charging-sessions/{id}`.
 * @property {string} request_id
 * @property {string} station_id
 * @property {string} driver_token_hash_prefix
 * @property {string} accepted_at
 * @property {string | null} decided_at
 * @property {string | null} decision
 * @property {string | null} reason
 * @property {number | null} authorization_latency_ms
 * @property {string | null} [decision_source]
 * @property {string | null} [authorization_reference]
 * @property {string[] | null} [allowed_evses]
 * @property {{ text: string, language: string } | null} [display_text]
 * @property {Callback} callback
 */
/**
 * @typedef {object} TimelineItem
 * @property {string} kind
 * @property {string | null | undefined} at
 * @property {string} title
 * @property {string} [detail]
 * @property {'ok' | 'bad' | 'wait'} tone
 */

/**
 * Where a decision came from, and what an OCPI service gave with it (docs/authorization.md).
 * @param {SessionView} s
 */
function decisionDetails(s) {
  const parts = [];
  if (s.decision_source && s.decision_source !== 'service') {
    parts.push('from ' + s.decision_source.replaceAll('_', ' '));
  }
  if (s.authorization_reference) parts.push('reference ' + s.authorization_reference);
  if (s.allowed_evses && s.allowed_evses.length > 0) {
    parts.push('EVSEs ' + s.allowed_evses.join(', '));
  }
  if (s.display_text) {
    parts.push('“' + s.display_text.text + '” (' + s.display_text.language + ')');
  }
  return parts.map((part) => ' · ' + part).join('');
}

/**
 * @param {SessionView} s
 * @returns {TimelineItem[]}
 */
function timelineOf(s) {
  const cb = s.callback;
  /** @type {TimelineItem[]} */
  const items = [
    {
      kind: 'accepted',
      at: s.accepted_at,
      title: 'Accepted',
      detail: 'station ' + s.station_id + ' · token hash ' + s.driver_token_hash_prefix,
      tone: 'ok',
    },
  ];
  if (s.decided_at && s.decision) {
    const latency =
      s.authorization_latency_ms === null
        ? ''
        : ' · authorization ' + s.authorization_latency_ms + ' ms';
    const tone = s.decision === 'allowed' ? 'ok' : s.decision === 'unknown' ? 'wait' : 'bad';
    items.push({
      kind: 'decided',
      at: s.decided_at,
      title: 'Decided: ' + s.decision.replace('_', ' '),
      detail: 'reason ' + (s.reason || '–') + latency + decisionDetails(s),
      tone,
    });
  } else {
    items.push({ kind: 'pending', at: null, title: 'Waiting for a decision', tone: 'wait' });
  }
  for (const h of cb.history) {
    const ok = h.status_code !== null && h.status_code >= 200 && h.status_code < 300;
    const outcome = h.status_code !== null ? 'HTTP ' + h.status_code : h.error || 'no answer';
    const snippet = h.response_snippet ? ' · “' + h.response_snippet.slice(0, 80) + '”' : '';
    items.push({
      kind: 'attempt',
      at: h.started_at,
      title: 'Callback attempt ' + h.attempt + ': ' + outcome,
      detail: h.duration_ms + ' ms' + snippet,
      tone: ok ? 'ok' : 'bad',
    });
  }
  /** @type {Record<Callback['state'], Omit<TimelineItem, 'kind'>>} */
  const finals = {
    delivered: { at: cb.delivered_at, title: 'Delivered', tone: 'ok' },
    // No attempt at all: its queued message was set aside
    // (docs/webhooks.md, "Unreadable messages").
    dead_lettered:
      cb.attempts > 0
        ? { at: cb.last_attempt_at, title: 'Dead-lettered: retries exhausted', tone: 'bad' }
        : {
            at: null,
            title: 'Dead-lettered: its queued message could not be handled',
            tone: 'bad',
          },
    gone: { at: cb.last_attempt_at, title: 'Gone: the receiver answered 410', tone: 'bad' },
    retrying: { at: cb.next_attempt_at, title: 'Next attempt scheduled', tone: 'wait' },
    pending: { at: null, title: 'Callback pending', tone: 'wait' },
  };
  const final = finals[cb.state];
  if (final) items.push(Object.assign({ kind: cb.state }, final));
  return items;
}

/** @param {SessionView} s */
function renderLookup(s) {
  const summary = $('lookup-summary');
  summary.replaceChildren();
  const attempts = s.callback.attempts;
  const pairs = [
    ['Request', s.request_id],
    ['Station', s.station_id],
    ['Callback URL', s.callback.url],
    [
      'Callback',
      s.callback.state.replace('_', ' ') +
        ' · ' +
        attempts +
        (attempts === 1 ? ' attempt' : ' attempts'),
    ],
  ];
  for (const [name, value] of pairs) {
    const dt = document.createElement('dt');
    dt.textContent = name;
    const dd = document.createElement('dd');
    dd.textContent = value;
    summary.append(dt, dd);
  }
  summary.hidden = false;
  const list = $('timeline');
  list.replaceChildren();
  const start = Date.parse(s.accepted_at);
  for (const item of timelineOf(s)) {
    const li = document.createElement('li');
    li.className = item.tone;
    li.dataset.kind = item.kind;
    li.dataset.testid = 'timeline-item';
    const title = document.createElement('strong');
    title.textContent = item.title;
    li.appendChild(title);
    if (item.at) {
      const when = document.createElement('span');
      when.className = 'when';
      const offset = Date.parse(item.at) - start;
      when.textContent =
        fmtTime(item.at) + (item.kind === 'accepted' ? '' : ' (+' + fmtInt(offset) + ' ms)');
      li.appendChild(when);
    }
    if (item.detail) {
      const detail = document.createElement('div');
      detail.className = 'detail';
      detail.textContent = item.detail;
      li.appendChild(detail);
    }
    list.appendChild(li);
  }
}

/**
 * Shows one request, by id, in the lookup panel.
 * @param {string} id
 */
export async function lookup(id) {
  $as('lookup-input', HTMLInputElement).value = id;
  $('lookup-error').textContent = '';
  try {
    /** @type {SessionView} */
    const session = await api('GET', '/api/v1/charging-sessions/' + encodeURIComponent(id.trim()), {
      public: true,
    });
    renderLookup(session);
  } catch (error) {
    $('lookup-summary').hidden = true;
    $('timeline').replaceChildren();
    $('lookup-error').textContent =
      statusOf(error) === 404 ? 'No request has this id.' : 'Lookup failed: ' + messageOf(error);
  }
}
