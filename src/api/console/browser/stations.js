/**
 * The console's stations panel: the catalog's stations (`/api/v1/stations`, the first page),
 * their status and today's reservations (UTC day, `/api/v1/reservations`), with a button that
 * sets a station out of order or back to available. Read on sign-in, after each change and
 * every 10 s.
 */
import { $, toast } from './dom.js';
import { api, messageOf, signedIn, statusOf } from './session.js';

/**
 * @typedef {object} Station One station of `GET /api/v1/stations`.
 * @property {string} id
 * @property {string} name
 * @property {string} status
 * @property {unknown[]} charging_points
 */
/** @typedef {{ station_id: string, starts_at: string, ends_at: string }} Reservation */

const STATIONS_POLL_MS = 10000;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let stationsTimer;

export function startStations() {
  stopStations();
  void pollStations();
}

export function stopStations() {
  clearTimeout(stationsTimer);
  stationsTimer = undefined;
}

/** @param {string} iso */
function hhmm(iso) {
  return iso.slice(11, 16);
}

/**
 * @param {string} text
 * @param {string} [className]
 */
function stationCell(text, className) {
  const cell = document.createElement('td');
  if (className) cell.className = className;
  cell.textContent = text;
  return cell;
}

/**
 * @param {Station[]} stations
 * @param {Reservation[]} reservations
 */
function renderStations(stations, reservations) {
  const body = $('stations');
  body.replaceChildren();
  for (const station of stations) {
    const booked = reservations.filter((r) => r.station_id === station.id);
    const row = document.createElement('tr');
    row.dataset.station = station.id;
    row.append(
      stationCell(station.name + ' (' + station.id.slice(0, 8) + '…)'),
      stationCell(station.status.replaceAll('_', ' '), 'station-' + station.status),
      stationCell(String(station.charging_points.length), 'n'),
      stationCell(
        booked.length === 0
          ? '–'
          : booked.map((r) => hhmm(r.starts_at) + '–' + hhmm(r.ends_at)).join(', '),
      ),
    );
    const action = document.createElement('td');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'small';
    const target = station.status === 'out_of_order' ? 'available' : 'out_of_order';
    button.textContent = target === 'available' ? 'Set available' : 'Set out of order';
    button.dataset.testid = 'station-status-button';
    button.addEventListener('click', () => void setStationStatus(station, target, button));
    action.append(button);
    row.append(action);
    body.append(row);
  }
  $('stations-empty').hidden = stations.length > 0;
}

/**
 * @param {Station} station
 * @param {string} status
 * @param {HTMLButtonElement} button
 */
async function setStationStatus(station, status, button) {
  button.disabled = true;
  try {
    await api('PUT', '/api/v1/stations/' + encodeURIComponent(station.id) + '/status', {
      body: { status },
    });
    toast(station.name + ': ' + status.replaceAll('_', ' '));
  } catch (error) {
    toast('Setting the status failed: ' + messageOf(error));
  }
  void pollStations();
}

async function pollStations() {
  clearTimeout(stationsTimer);
  try {
    const day = new Date().toISOString().slice(0, 10);
    /** @type {[{ items: Station[] }, { items: Reservation[] }]} */
    const [stations, reservations] = await Promise.all([
      api('GET', '/api/v1/stations', { query: { limit: '200' } }),
      api('GET', '/api/v1/reservations', {
        query: { from: day + 'T00:00:00Z', to: day + 'T23:59:59.999Z' },
      }),
    ]);
    if (!signedIn()) return;
    renderStations(stations.items, reservations.items);
  } catch (error) {
    if (statusOf(error) === 401) return;
  }
  stationsTimer = setTimeout(() => void pollStations(), STATIONS_POLL_MS);
}
