// The baseline of the cached read in bench/blocks: a bare node:http server that answers
// every request with the bytes Tessera answered a cached GET /api/sessions/:key with (the
// file BODY_FILE), as JSON. No routing, no auth, no cache lookup: what HTTP alone costs.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const body = readFileSync(process.env.BODY_FILE);
const server = createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 72_000;
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.send?.('ready'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
