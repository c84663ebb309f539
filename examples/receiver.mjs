#!/usr/bin/env node
// A callback receiver for trying Chargegate locally: prints every webhook it gets and answers
// 204. Usage: node examples/receiver.mjs [port]   (default 9000)
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 9000);

createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => {
    console.log(
      JSON.stringify({
        at: new Date().toISOString(),
        path: req.url,
        'webhook-id': req.headers['webhook-id'],
        'webhook-timestamp': req.headers['webhook-timestamp'],
        'webhook-signature': req.headers['webhook-signature'],
        body: JSON.parse(body || 'null'),
      }),
    );
    res.writeHead(204).end();
  });
}).listen(port, '127.0.0.1', () => console.log(`receiver listening on http://127.0.0.1:${port}/`));
