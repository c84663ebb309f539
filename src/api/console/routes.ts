import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { CONSOLE_HTML } from './page.js';
import { CHARTS_JS } from './script-charts.js';
import { APP_JS } from './script-app.js';
import { HISTORY_JS } from './script-history.js';
import { DEAD_LETTERS_JS } from './script-dead-letters.js';
import { CLIENTS_JS } from './script-clients.js';
import { STATIONS_JS } from './script-stations.js';
import { ACTIONS_JS } from './script-actions.js';

export const CONSOLE_PATH = '/console';

/**
 * Only this origin's scripts, styles and API: no inline script, so an injected string can
 * never run even if some text ever reached the page unescaped. `form-action 'none'` because
 * the forms are handled in script and must never navigate (the token would land in a URL).
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The console's style sheet: beside this module in src/, copied beside it in dist/. */
const BROWSER = new URL('./browser/', import.meta.url);

/** One strict-mode scope, so the parts share helpers without leaking globals. */
const CONSOLE_JS = `(() => {\n'use strict';\n${CHARTS_JS}\n${APP_JS}\n${HISTORY_JS}\n${DEAD_LETTERS_JS}\n${CLIENTS_JS}\n${STATIONS_JS}\n${ACTIONS_JS}\n})();\n`;

/**
 * The operator console: one static page, its script and its style; the style is read from
 * `browser/` once, when the console is registered. The page holds no data: it asks for the
 * admin token and reads everything from `/admin/v1/…` with it. Registered with the admin API,
 * so without `ADMIN_TOKEN` it does not exist (404).
 */
export function registerConsole(app: FastifyInstance): void {
  const read = (name: string) => readFileSync(new URL(name, BROWSER), 'utf8');
  const asset = (path: string, type: string, body: string) =>
    app.get(path, { schema: { hide: true } }, (_request, reply) =>
      reply
        .headers({
          'content-security-policy': CONTENT_SECURITY_POLICY,
          'x-content-type-options': 'nosniff',
          'referrer-policy': 'no-referrer',
          'cache-control': 'no-cache',
        })
        .type(type)
        .send(body),
    );
  asset(CONSOLE_PATH, 'text/html; charset=utf-8', CONSOLE_HTML);
  asset(`${CONSOLE_PATH}/app.js`, 'text/javascript; charset=utf-8', CONSOLE_JS);
  asset(`${CONSOLE_PATH}/app.css`, 'text/css; charset=utf-8', read('app.css'));
}
