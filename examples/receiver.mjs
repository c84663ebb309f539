#!/usr/bin/env node
// A callback receiver for trying Chargegate locally: prints every webhook it gets, checks its
// Standard Webhooks signature when WEBHOOK_SECRET is set, and answers 204.
//   WEBHOOK_SECRET=$(cat data/webhook-secret) node examples/receiver.mjs [port]   (default 9000;
//   0 picks a free one)
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 9000);
const secrets = (process.env.WEBHOOK_SECRET ?? '').split(/[\s,]+/).filter(Boolean);

function signatureValid(headers, body) {
  const content = `${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`;
  const sent = String(headers['webhook-signature'] ?? '')
    .split(' ')
    .map((s) => Buffer.from(s.replace(/^v1,/, ''), 'base64'));
  return secrets.some((secret) => {
    const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
    const expected = createHmac('sha256', key).update(content).digest();
    return sent.some((s) => s.length === expected.length && timingSafeEqual(s, expected));
  });
}

const server = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => {
    console.log(
      JSON.stringify({
        at: new Date().toISOString(),
        'webhook-id': req.headers['webhook-id'],
        signature:
          secrets.length === 0
            ? 'not checked'
            : signatureValid(req.headers, body)
              ? 'valid'
              : 'INVALID',
        body: JSON.parse(body || 'null'),
      }),
    );
    res.writeHead(204).end();
  });
});
server.listen(port, '127.0.0.1', () =>
  console.log(`receiver listening on http://127.0.0.1:${server.address().port}/`),
);
