/**
 * The console's entry module: sign-in and sign-out, and starting and stopping the panels that
 * poll the admin API. Loaded by the page as `<script type="module">`, so every part is strict
 * and keeps its names to itself.
 */
import { startDeadLetters, stopDeadLetters, wireDeadLetters } from './dead-letters.js';
import { $, $as, setStatus } from './dom.js';
import { renderHistory, selectRange, startHistory, stopHistory } from './history.js';
import { lookup } from './lookup.js';
import { startClients, stopClients } from './clients.js';
import {
  api,
  dropToken,
  holdToken,
  messageOf,
  signedIn,
  statusOf,
  whenRejected,
} from './session.js';
import { startStations, stopStations } from './stations.js';
import { startStats, stopStats } from './stats.js';

/** @param {boolean} signedIn */
function showDashboard(signedIn) {
  $('login').hidden = signedIn;
  $('dashboard').hidden = !signedIn;
  $('sign-out').hidden = !signedIn;
}

/** @param {string} message */
function signOut(message) {
  dropToken();
  stopStats();
  stopHistory();
  stopDeadLetters();
  stopClients();
  stopStations();
  showDashboard(false);
  setStatus('', 'Signed out');
  $('login-error').textContent = message || '';
  $('token-input').focus();
}

/** @param {SubmitEvent} event */
async function signIn(event) {
  event.preventDefault();
  const input = $as('token-input', HTMLInputElement);
  const token = input.value.trim();
  holdToken(token, false);
  $('login-error').textContent = '';
  try {
    await api('GET', '/admin/v1/stats');
  } catch (error) {
    dropToken();
    $('login-error').textContent =
      statusOf(error) === 401
        ? 'This token was rejected.'
        : 'Cannot reach the admin API: ' + messageOf(error);
    return;
  }
  holdToken(token, true);
  input.value = '';
  start();
}

function start() {
  showDashboard(true);
  startStats();
  startHistory();
  startDeadLetters();
  startClients();
  startStations();
}

function init() {
  whenRejected(signOut);
  $('login-form').addEventListener('submit', (event) => void signIn(event));
  $('sign-out').addEventListener('click', () => signOut(''));
  wireDeadLetters();
  for (const button of document.querySelectorAll('[data-range]')) {
    if (!(button instanceof HTMLElement)) continue;
    button.addEventListener('click', () => selectRange(button.dataset.range));
  }
  $('lookup-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void lookup($as('lookup-input', HTMLInputElement).value);
  });
  window.addEventListener('resize', () => renderHistory());
  if (signedIn()) start();
  else $('token-input').focus();
}

init();
