/**
 * The console's dead letters: groups by receiver host and reason, paged; the letters of one
 * group, paged; and replay of one letter, one group or all, each confirmed in a dialog that
 * says how many callbacks go to which hosts before anything is sent.
 */
import { $, $as, cell, toast } from './dom.js';
import { fmtInt, fmtTime } from './format.js';
import { lookup } from './lookup.js';
import { api, messageOf, rejected, signedIn, statusOf } from './session.js';

/**
 * @typedef {object} Group One group of `GET /admin/v1/dead-letters/groups`.
 * @property {string} host
 * @property {string} reason
 * @property {number} count
 * @property {string} oldest_at
 * @property {string} newest_at
 */
/**
 * @typedef {object} GroupsView The answer of `GET /admin/v1/dead-letters/groups`.
 * @property {Group[]} groups
 * @property {number} total
 * @property {number} total_groups
 * @property {number} [next_offset]
 * @property {string} [through]
 */
/**
 * @typedef {object} DeadLetter One letter of `GET /admin/v1/dead-letters`.
 * @property {string} id
 * @property {string} request_id
 * @property {string} status
 * @property {number} attempts
 * @property {string} dead_lettered_at
 * @property {string} callback_url
 */
/** @typedef {{ host: string, reason: string, next: string | undefined }} OpenGroup */

const GROUP_PAGE = 20;
const LETTER_PAGE = 50;
const GROUPS_POLL_MS = 5000;
let groupOffset = 0;
/** @type {GroupsView | null} */
let groupsView = null;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let groupsTimer;
/** The group whose letters are shown. @type {OpenGroup | null} */
let openGroup = null;
/** Dead letters replayed from this page: hidden at once, even from a listing already under way. */
const replayed = new Set();
/** The group each row shows, updated with every listing. @type {WeakMap<Element, Group>} */
const groupOfRow = new WeakMap();

export function startDeadLetters() {
  stopDeadLetters();
  void pollGroups();
}

export function stopDeadLetters() {
  clearTimeout(groupsTimer);
  groupsTimer = undefined;
}

async function pollGroups() {
  clearTimeout(groupsTimer);
  try {
    /** @type {GroupsView} */
    const view = await api('GET', '/admin/v1/dead-letters/groups', {
      query: { limit: GROUP_PAGE, offset: groupOffset },
    });
    if (!signedIn()) return;
    groupsView = view;
    renderGroups(view);
  } catch (error) {
    if (statusOf(error) === 401) return rejected('The admin token was rejected.');
    $('dl-empty').textContent = 'Dead letters not updating: ' + messageOf(error);
  }
  if (signedIn()) groupsTimer = setTimeout(pollGroups, GROUPS_POLL_MS);
}

/** @param {string} host */
const hostLabel = (host) => host || '(no callback URL)';
/** @param {{ host: string, reason: string }} g */
const groupKey = (g) => JSON.stringify([g.host, g.reason]);

/** @param {GroupsView} view */
function renderGroups(view) {
  const body = $('dl-groups');
  const keys = new Set(view.groups.map(groupKey));
  for (const row of Array.from(body.children)) {
    if (row instanceof HTMLElement && !keys.has(row.dataset.key || '')) row.remove();
  }
  view.groups.forEach((group, index) => {
    let row = body.querySelector('tr[data-key="' + CSS.escape(groupKey(group)) + '"]');
    if (!row) row = groupRow(group);
    row.children[2].textContent = fmtInt(group.count);
    row.children[3].textContent = fmtTime(group.oldest_at);
    row.children[4].textContent = fmtTime(group.newest_at);
    groupOfRow.set(row, group);
    if (body.children[index] !== row) body.insertBefore(row, body.children[index] || null);
  });
  const shown = view.groups.length;
  const groups = view.total_groups === 1 ? ' group' : ' groups';
  const page =
    view.total_groups > shown ? ' · groups ' + (groupOffset + 1) + '–' + (groupOffset + shown) : '';
  $('dl-empty').textContent =
    view.total === 0
      ? 'No dead letters.'
      : fmtInt(view.total) + ' callbacks in ' + fmtInt(view.total_groups) + groups + page + '.';
  $('groups-prev').hidden = groupOffset === 0;
  $('groups-next').hidden = view.next_offset === undefined;
  $as('replay-all', HTMLButtonElement).disabled = view.total === 0;
}

/** @param {Group} group */
function groupRow(group) {
  const row = document.createElement('tr');
  row.dataset.key = groupKey(group);
  row.dataset.host = group.host;
  row.dataset.reason = group.reason;
  row.dataset.testid = 'dead-letter-group';
  /** The group as last listed: its count grows while the page is open. */
  const current = () => groupOfRow.get(row) || group;
  const actions = cell('', 'n actions');
  const show = document.createElement('button');
  show.type = 'button';
  show.className = 'quiet small';
  show.textContent = 'Show';
  show.dataset.testid = 'group-show';
  show.addEventListener('click', () => void showGroup(current(), false));
  const replay = document.createElement('button');
  replay.type = 'button';
  replay.className = 'small';
  replay.textContent = 'Replay…';
  replay.dataset.testid = 'group-replay';
  replay.setAttribute(
    'aria-label',
    'Replay the dead letters to ' + hostLabel(group.host) + ' (' + group.reason + ')',
  );
  replay.addEventListener('click', () => void replayGroup(current()));
  actions.append(show, replay);
  row.append(
    cell(hostLabel(group.host)),
    cell(group.reason),
    cell('', 'n'),
    cell(''),
    cell(''),
    actions,
  );
  return row;
}

/**
 * Lists the letters of a group, or its next page (`more`).
 * @param {{ host: string, reason: string }} group
 * @param {boolean} more
 */
async function showGroup(group, more) {
  if (!more || !openGroup) {
    openGroup = { host: group.host, reason: group.reason, next: undefined };
    $('dead-letters').replaceChildren();
    $('dl-letters-title').textContent = hostLabel(group.host) + ' · ' + group.reason;
    $('dl-letters').hidden = false;
  }
  const shown = openGroup;
  /** @type {Record<string, string | number>} */
  const query = { host: group.host, reason: group.reason, limit: LETTER_PAGE };
  if (more && shown.next) query.after = shown.next;
  try {
    /** @type {{ items: DeadLetter[], next?: string }} */
    const page = await api('GET', '/admin/v1/dead-letters', { query });
    for (const item of page.items) {
      if (!replayed.has(item.id)) $('dead-letters').appendChild(deadLetterRow(item));
    }
    shown.next = page.next;
    $('letters-more').hidden = page.next === undefined;
  } catch (error) {
    toast('Listing failed: ' + messageOf(error));
  }
}

/** @param {DeadLetter} item */
function deadLetterRow(item) {
  const row = document.createElement('tr');
  row.dataset.id = item.id;
  row.dataset.requestId = item.request_id;
  row.dataset.testid = 'dead-letter-row';
  const requestCell = cell('');
  const link = document.createElement('button');
  link.type = 'button';
  link.className = 'link';
  link.textContent = item.request_id;
  link.title = 'Show this request';
  link.addEventListener('click', () => void lookup(item.request_id));
  requestCell.appendChild(link);
  const action = cell('', 'n');
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'small';
  button.textContent = 'Replay…';
  button.dataset.testid = 'replay-button';
  button.setAttribute('aria-label', 'Replay dead letter ' + item.id);
  button.addEventListener('click', () => void replayOne(item, row, button));
  action.appendChild(button);
  row.append(
    cell(item.id),
    requestCell,
    cell(item.status),
    cell(fmtInt(item.attempts), 'n'),
    cell(fmtTime(item.dead_lettered_at)),
    action,
  );
  return row;
}

/**
 * Asks before a replay: the dialog names how many callbacks go to which hosts. Resolves true
 * when the operator confirms.
 * @param {string} text
 * @param {[string, number][]} hosts
 * @param {string} buttonText
 * @returns {Promise<boolean>}
 */
function confirmReplay(text, hosts, buttonText) {
  const dialog = $as('confirm', HTMLDialogElement);
  const ok = $('confirm-ok');
  const cancel = $('confirm-cancel');
  $('confirm-text').textContent = text;
  const list = $('confirm-hosts');
  list.replaceChildren();
  for (const [host, count] of hosts) {
    const li = document.createElement('li');
    li.textContent = fmtInt(count) + ' → ' + hostLabel(host);
    list.appendChild(li);
  }
  ok.textContent = buttonText;
  return new Promise((resolve) => {
    /** @param {boolean} answer */
    const done = (answer) => {
      ok.onclick = null;
      cancel.onclick = null;
      dialog.onclose = null;
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    ok.onclick = () => done(true);
    cancel.onclick = () => done(false);
    dialog.onclose = () => done(false);
    dialog.showModal();
  });
}

/** @param {number} n */
const callbacks = (n) => fmtInt(n) + (n === 1 ? ' callback' : ' callbacks');

/**
 * @param {DeadLetter} item
 * @param {HTMLElement} row
 * @param {HTMLButtonElement} button
 */
async function replayOne(item, row, button) {
  const host = hostOf(item.callback_url);
  const ok = await confirmReplay(
    'Replay the callback of request ' +
      item.request_id +
      ' (' +
      item.status +
      ')? Its receiver gets it again with the same webhook-id.',
    [[host, 1]],
    'Replay 1 callback',
  );
  if (!ok) return;
  button.disabled = true;
  try {
    await api('POST', '/admin/v1/dead-letters/' + encodeURIComponent(item.id) + '/replay');
    toast('Replayed the callback of ' + item.request_id + ' to ' + hostLabel(host) + '.');
  } catch (error) {
    if (statusOf(error) !== 404) {
      button.disabled = false;
      toast('Replay failed: ' + messageOf(error));
      return;
    }
    toast('Dead letter ' + item.id + ' was already replayed or purged.');
  }
  replayed.add(item.id);
  row.remove();
  void pollGroups();
}

/** @param {Group} group */
async function replayGroup(group) {
  const through = groupsView ? groupsView.through : undefined;
  const ok = await confirmReplay(
    'Replay ' +
      callbacks(group.count) +
      ' dead-lettered with reason ' +
      group.reason +
      '? Each goes again to its receiver with the same webhook-id;' +
      ' letters dead-lettered after this count are left.',
    [[group.host, group.count]],
    'Replay ' + callbacks(group.count),
  );
  if (!ok) return;
  try {
    /** @type {Record<string, string>} */
    const query = { host: group.host, reason: group.reason };
    if (through) query.through = through;
    /** @type {{ replayed: number }} */
    const result = await api('POST', '/admin/v1/dead-letters/groups/replay', { query });
    toast('Replayed ' + callbacks(result.replayed) + ' to ' + hostLabel(group.host) + '.');
    if (openGroup && openGroup.host === group.host && openGroup.reason === group.reason) {
      $('dl-letters').hidden = true;
    }
  } catch (error) {
    toast('Replay failed: ' + messageOf(error));
  }
  void pollGroups();
}

async function replayAll() {
  /** @type {GroupsView} */
  let view;
  try {
    view = await api('GET', '/admin/v1/dead-letters/groups', { query: { limit: 500 } });
  } catch (error) {
    return toast('Cannot count the dead letters: ' + messageOf(error));
  }
  if (view.total === 0) return toast('No dead letters to replay.');
  /** @type {Map<string, number>} */
  const byHost = new Map();
  for (const g of view.groups) byHost.set(g.host, (byHost.get(g.host) || 0) + g.count);
  const hosts = Array.from(byHost.entries()).sort((a, b) => b[1] - a[1]);
  const shown = hosts.slice(0, 10);
  const rest = hosts.slice(10).reduce((n, h) => n + h[1], 0);
  if (rest > 0) shown.push(['(' + fmtInt(hosts.length - 10) + ' more hosts)', rest]);
  const ok = await confirmReplay(
    'Replay every dead-lettered callback: ' +
      callbacks(view.total) +
      ' to ' +
      fmtInt(hosts.length) +
      (hosts.length === 1 ? ' host' : ' hosts') +
      '?',
    shown,
    'Replay ' + callbacks(view.total),
  );
  if (!ok) return;
  const replayAllButton = $as('replay-all', HTMLButtonElement);
  replayAllButton.disabled = true;
  try {
    /** @type {{ replayed: number }} */
    const result = await api('POST', '/admin/v1/dead-letters/replay', {
      query: view.through ? { through: view.through } : {},
    });
    $('dl-letters').hidden = true;
    toast('Replayed ' + callbacks(result.replayed) + '.');
  } catch (error) {
    toast('Replay failed: ' + messageOf(error));
  }
  void pollGroups();
}

/** @param {string} url */
function hostOf(url) {
  try {
    return new URL(url).host;
  } catch {
    return '';
  }
}

/** Wires the panel's buttons, once, when the page loads. */
export function wireDeadLetters() {
  $('replay-all').addEventListener('click', () => void replayAll());
  $('groups-prev').addEventListener('click', () => {
    groupOffset = Math.max(0, groupOffset - GROUP_PAGE);
    void pollGroups();
  });
  $('groups-next').addEventListener('click', () => {
    groupOffset += GROUP_PAGE;
    void pollGroups();
  });
  $('letters-more').addEventListener('click', () => {
    if (openGroup) void showGroup(openGroup, true);
  });
}
