/**
 * The floor for a node TLS server: the same TLS options as `securestream serve`
 * (serverTlsOptions) and nothing else — no request parsing, no logging, no peer identity.
 * Case 3 measures it next to securestream so the cost of node itself is visible.
 * `node dist/bench/bare-server.js PKI_DIR`; prints the port.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:tls';
import { resolveTlsPolicy, serverTlsOptions } from '../src/transport/tls.js';

const dir = process.argv[2] ?? 'pki';
const pem = {
  ca: readFileSync(join(dir, 'ca.crt'), 'utf8'),
  cert: readFileSync(join(dir, 'server.crt'), 'utf8'),
  key: readFileSync(join(dir, 'server.key'), 'utf8'),
};
const server = createServer(serverTlsOptions(pem, resolveTlsPolicy({ keyKind: 'ec' })));
server.on('secureConnection', (s) => {
  s.on('error', () => undefined);
  s.resume();
  s.on('end', () => s.end());
});
server.listen(0, '127.0.0.1', () => {
  const a = server.address();
  process.stdout.write(`${typeof a === 'object' && a ? a.port : 0}\n`);
});
process.on('SIGTERM', () => process.exit(0));
