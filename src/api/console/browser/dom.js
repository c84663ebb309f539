/**
 * The console's DOM helpers. Data only ever reaches the page through `textContent`, never as
 * markup, so a string from the API can never become an element or a script.
 */

/**
 * The element with this id; throws when the page lacks it (a mistake, never data).
 * @param {string} id
 */
export function $(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error('console: no element #' + id);
  return element;
}

/**
 * The element with this id, checked to be of a kind, for what only that kind has (an input's
 * value, a dialog's showModal).
 * @template {typeof HTMLElement} T
 * @param {string} id
 * @param {T} kind
 * @returns {InstanceType<T>}
 */
export function $as(id, kind) {
  const element = $(id);
  if (!(element instanceof kind)) throw new Error('console: #' + id + ' is not a ' + kind.name);
  return /** @type {InstanceType<T>} */ (element);
}

/**
 * @param {string} testId
 * @param {string} text
 */
export function setText(testId, text) {
  const element = document.querySelector('[data-testid="' + testId + '"]');
  if (!element) throw new Error('console: no element ' + testId);
  element.textContent = text;
}

/**
 * A table cell holding text.
 * @param {string} text
 * @param {string} [className]
 */
export function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** @type {ReturnType<typeof setTimeout> | undefined} */
let toastTimer;

/**
 * Says for four seconds what an action did.
 * @param {string} message
 */
export function toast(message) {
  const el = $('toast');
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    el.hidden = true;
  }, 4000);
}

/**
 * The status line of the header: live, failing or signed out ('').
 * @param {'' | 'live' | 'failing'} kind
 * @param {string} text
 */
export function setStatus(kind, text) {
  const el = $('status');
  el.className = 'status ' + kind;
  el.textContent = text;
}
