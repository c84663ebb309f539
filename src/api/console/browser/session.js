/**
 * The admin token of this tab and the one way to call the APIs with it. The token lives in
 * sessionStorage: it survives a reload but not the tab, and never lands in a URL.
 */

const TOKEN_KEY = 'chargegate.adminToken';

/** Decisions in the order the page lists them; others follow when the API reports them. */
export const DECISIONS = ['allowed', 'not_allowed', 'invalid', 'unknown'];

/** @type {string | null} */
let token = sessionStorage.getItem(TOKEN_KEY);

/** What the page does when the API rejects the token: set by the page's sign-in. */
let onRejected = /** @param {string} _message */ (_message) => {};

/** An answer of the API other than 2xx. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Whether a token is held: a poll answering after sign-out must not draw. */
export const signedIn = () => token !== null;

/**
 * Holds a token for this tab; `remember` keeps it across a reload.
 * @param {string} value
 * @param {boolean} remember
 */
export function holdToken(value, remember) {
  token = value;
  if (remember) sessionStorage.setItem(TOKEN_KEY, value);
}

export function dropToken() {
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
}

/** @param {(message: string) => void} handler */
export function whenRejected(handler) {
  onRejected = handler;
}

/**
 * Signs out, saying why: for a poll that met a 401.
 * @param {string} message
 */
export function rejected(message) {
  onRejected(message);
}

/**
 * The HTTP status of a failed call, if the API answered.
 * @param {unknown} error
 */
export const statusOf = (error) => (error instanceof ApiError ? error.status : undefined);

/** @param {unknown} error */
export const messageOf = (error) => (error instanceof Error ? error.message : String(error));

/**
 * @typedef {object} CallOptions
 * @property {Record<string, string | number>} [query] Encoded into the query string.
 * @property {boolean} [public] Sent without the admin token.
 * @property {unknown} [body] Sent as JSON.
 */

/**
 * Calls the API and returns its JSON answer; throws an ApiError with the problem's detail.
 * @param {string} method
 * @param {string} path
 * @param {CallOptions} [options]
 * @returns {Promise<any>}
 */
export async function api(method, path, options) {
  // The query string is built from parts the page knows, each encoded.
  if (options && options.query) {
    /** @type {Record<string, string>} */
    const query = {};
    for (const [name, value] of Object.entries(options.query)) query[name] = String(value);
    path += '?' + new URLSearchParams(query).toString();
  }
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  if (!(options && options.public)) headers.authorization = 'Bearer ' + token;
  /** @type {RequestInit} */
  const init = { method, headers, cache: 'no-store' };
  if (options && options.body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }
  const response = await fetch(path, init);
  const type = response.headers.get('content-type') || '';
  const body = type.includes('json') ? await response.json() : null;
  if (!response.ok) {
    throw new ApiError(
      response.status,
      (body && (body.detail || body.title)) || 'HTTP ' + response.status,
    );
  }
  return body;
}
