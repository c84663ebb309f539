/** SQL fragments both store adapters share (SQLite and PostgreSQL read them alike). */
import { FINISHED_CALLBACK_STATES, TERMINAL_CALLBACK_STATES } from './port.js';

const quoted = (states: readonly string[]) => states.map((state) => `'${state}'`).join(', ');

/** A callback not yet in a terminal state: the only kind an attempt or a state change moves. */
export const CALLBACK_NOT_TERMINAL = `callback_state NOT IN (${quoted(TERMINAL_CALLBACK_STATES)})`;

/** A finished session's callback (retention). */
export const FINISHED = `callback_state IN (${quoted(FINISHED_CALLBACK_STATES)})`;
