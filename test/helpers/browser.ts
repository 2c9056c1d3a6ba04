/**
 * Debian's headless Chromium, driven by Playwright with a client certificate, in a process of
 * its own: Playwright checks the server's certificate in the process that runs it, against
 * node's trust store, so the test starts this script with NODE_EXTRA_CA_CERTS naming the
 * test CA instead of turning the check off.
 *
 * Usage: node browser.js ORIGIN DOWNLOAD_DIR [CERT KEY]. Opens ORIGIN/ (the folder listing),
 * follows the link into `docs/`, clicks the first file there to download it, and prints one JSON
 * line: what it saw and where the download went. Without CERT and KEY it only tries to open
 * the page and prints the error; Chromium then checks the server itself and does not know the
 * test CA, so that one run ignores certificate errors: what it shows is the server's refusal.
 */
import { join } from 'node:path';
import { chromium } from 'playwright-core';

/** The flags the machine notes give for Chromium on this closed network (see .ci/run). */
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

async function main(): Promise<void> {
  const [origin, downloads, certPath, keyPath] = process.argv.slice(2);
  if (!origin || !downloads) throw new Error('usage: ORIGIN DIR [CERT KEY]');
  const browser = await chromium.launch({
    executablePath: process.env['CHROMIUM'] ?? '/usr/bin/chromium',
    args: CHROMIUM_FLAGS,
  });
  try {
    if (!certPath || !keyPath) {
      const bare = await browser.newContext({ ignoreHTTPSErrors: true });
      const error = await (
        await bare.newPage()
      )
        .goto(`${origin}/`)
        .then(() => null)
        .catch((e: unknown) => (e instanceof Error ? e.message.split('\n')[0] : String(e)));
      process.stdout.write(`${JSON.stringify({ error })}\n`);
      return;
    }
    const context = await browser.newContext({
      clientCertificates: [{ origin, certPath, keyPath }],
      acceptDownloads: true,
    });
    const page = await context.newPage();
    const top = await page.goto(`${origin}/`);
    const rootLinks = await page.locator('table a').allTextContents();
    await page.click('a[href="/docs/"]');
    await page.waitForURL(`${origin}/docs/`);
    const docsLinks = await page.locator('table a').allTextContents();
    const first = page.locator('table a').first();
    const [download] = await Promise.all([page.waitForEvent('download'), first.click()]);
    const saved = join(downloads, download.suggestedFilename());
    await download.saveAs(saved);
    const failure = await download.failure();
    process.stdout.write(
      `${JSON.stringify({
        status: top?.status(),
        contentType: top?.headers()['content-type'],
        rootLinks,
        docsLinks,
        saved,
        failure,
        downloadUrl: download.url(),
      })}\n`,
    );
  } finally {
    await browser.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
