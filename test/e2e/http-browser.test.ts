/**
 * A real browser as the client: Debian's headless Chromium with a client certificate opens the
 * folder listing (plain HTML, the access rules applied), follows a folder link and downloads a
 * file, byte for byte. Without a certificate it gets no page.
 */
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { httpFixture, type HttpFixture, type HttpPki } from '../helpers/http.js';
import { run, type ServerProcess } from '../helpers/proc.js';

const BROWSER = join(dirname(fileURLToPath(import.meta.url)), '../helpers/browser.js');
const CHROMIUM = process.env['CHROMIUM'] ?? '/usr/bin/chromium';

interface Seen {
  status: number;
  contentType: string;
  rootLinks: string[];
  docsLinks: string[];
  saved: string;
  failure: string | null;
  downloadUrl: string;
}

describe(
  'a browser with a client certificate',
  { skip: existsSync(CHROMIUM) ? false : `no ${CHROMIUM} (.ci/run installs chromium)` },
  () => {
    let fx: HttpFixture;
    let pki: HttpPki;
    let server: ServerProcess;
    const report = randomBytes(300_000);

    before(async () => {
      fx = await httpFixture({
        files: { 'docs/report 2026.bin': report, 'secret/keys.txt': 'no\n', 'top.txt': 'top\n' },
        rules: ['  - anyone: true', '    deny: "secret/**"', '  - anyone: true', '    allow: "**"'],
      });
      ({ pki, server } = fx);
    });
    after(async () => {
      await fx.remove();
    });

    /** The browser script with the test CA trusted by Playwright's side of the connection. */
    const browse = (extra: string[]) =>
      run(
        'env',
        [
          `NODE_EXTRA_CA_CERTS=${pki.ca}`,
          process.execPath,
          BROWSER,
          `https://localhost:${server.port}`,
          fx.dir,
          ...extra,
        ],
        { timeoutMs: 90_000 },
      );

    it('opens the listing, follows a folder and downloads a file', async () => {
      const since = server.logLines().length;
      const r = await browse([pki.client.cert, pki.client.key]);
      assert.equal(r.code, 0, r.stderr);
      const seen = JSON.parse(r.stdout) as Seen;
      assert.equal(seen.status, 200);
      assert.equal(seen.contentType, 'text/html; charset=utf-8');
      assert.deepEqual(seen.rootLinks, ['docs/', 'top.txt'], 'the denied folder must not show');
      assert.deepEqual(seen.docsLinks, ['report 2026.bin']);
      assert.equal(seen.failure, null);
      assert.ok((await readFile(seen.saved)).equals(report), 'the download differs from the file');
      const l = await server.waitForLog(
        (x) => x['msg'] === 'request' && x['target'] === '/docs/report%202026.bin',
        { since },
      );
      assert.equal(l['status'], 200);
      assert.equal(l['subject'], 'CN=client');
    });

    it('without a client certificate the browser gets no page', async () => {
      const since = server.logLines().length;
      const r = await browse([]);
      assert.equal(r.code, 0, r.stderr);
      const { error } = JSON.parse(r.stdout) as { error: string | null };
      // Which network error Chromium names varies from run to run (ERR_BAD_SSL_CLIENT_AUTH_CERT,
      // ERR_SOCKET_NOT_CONNECTED, …); what matters is that no page came and the server says why.
      assert.match(error ?? 'a page was shown', /^page\.goto: net::ERR_[A-Z_]+/);
      // Chromium may first abort a handshake over the unknown CA, then retry without a check.
      await server.waitForLog(
        (x) => x['outcome'] === 'handshake-failed' && x['reason'] === 'client sent no certificate',
        { since },
      );
      assert.equal(
        server
          .logLines()
          .slice(since)
          .filter((x) => x['msg'] === 'request').length,
        0,
      );
    });
  },
);
