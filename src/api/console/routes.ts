import { readdirSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import type { FastifyInstance } from 'fastify';

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

/** The console's files: beside this module in src/ and, copied by the build, in dist/. */
const BROWSER = new URL('./browser/', import.meta.url);

const PAGE = 'index.html';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/**
 * The page at `/console`, every other file at `/console/<name>`; read once, at start-up. The
 * page is named, so a build or package without it fails here rather than serving a console
 * with no page.
 */
function readAssets(): { path: string; type: string; body: string }[] {
  const read = (name: string) => readFileSync(new URL(name, BROWSER), 'utf8');
  const page = { path: CONSOLE_PATH, type: 'text/html; charset=utf-8', body: read(PAGE) };
  const files = readdirSync(BROWSER)
    .filter((name) => name !== PAGE)
    .map((name) => {
      const type = TYPES[extname(name)];
      if (!type) throw new Error(`console: no content type for ${name}`);
      return { path: `${CONSOLE_PATH}/${name}`, type, body: read(name) };
    });
  return [page, ...files];
}

/**
 * The operator console: one static page, its script modules and its style sheet, from the
 * files in `browser/`. The page holds no data: it asks for the admin token and reads
 * everything from `/admin/v1/…` with it. Registered with the admin API, so without
 * `ADMIN_TOKEN` it does not exist (404).
 */
export function registerConsole(app: FastifyInstance): void {
  for (const { path, type, body } of readAssets()) {
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
  }
}
