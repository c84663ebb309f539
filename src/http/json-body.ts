import type { FastifyInstance } from 'fastify';

/** Marks a body that is not JSON, or uses a forbidden key, so errors map it by code alone. */
export const MALFORMED_JSON = 'REQUEST_MALFORMED_JSON';

/**
 * Bodies are JSON only: Fastify's text/plain parser is removed (plain text is a 415), and JSON
 * is parsed by Fastify's own parser (secure-json-parse, `__proto__` and `constructor.prototype`
 * refused, so a prototype-pollution attempt is a 400, never an object), wrapped so that every
 * failure carries one stable code. The parser's message is dropped: it may quote the body, and
 * with it a driver token.
 */
export function acceptJsonOnly(app: FastifyInstance): void {
  app.removeContentTypeParser('text/plain');
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    void parse(request, typeof body === 'string' ? body : body.toString('utf8'), (error, value) => {
      if (!error) return done(null, value);
      done(
        Object.assign(new Error('The request body is not valid JSON.'), {
          code: MALFORMED_JSON,
          statusCode: 400,
        }),
        undefined,
      );
    });
  });
}
