/**
 * `serve --reload-interval DURATION`: configuration that orchestrators swap in place. Every
 * interval the files a reload reads (certificate, key, CA, CRL, access rules) are read again
 * and hashed; when what they hold differs from the last look, the server reloads, exactly as
 * on SIGHUP. Paths are followed through symlinks, so a folder whose files Kubernetes swaps by
 * an atomic symlink flip (`tls.crt` → `..data/tls.crt`, `..data` → `..2026_…`) is seen as one
 * change. A version that fails to load is logged once and kept out; the next change of
 * content tries again.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { errnoCode } from './errors.js';

/** What the files hold now, as one digest: content, absence or an unreadable state per path. */
export async function contentFingerprint(paths: readonly string[]): Promise<string> {
  const h = createHash('sha256');
  for (const path of paths) {
    h.update(`${path}\0`);
    try {
      h.update(
        createHash('sha256')
          .update(await readFile(path))
          .digest(),
      );
    } catch (e) {
      h.update(`unreadable ${errnoCode(e) ?? 'error'}\0`);
    }
  }
  return h.digest('hex');
}

/** Polls `paths` every `intervalMs` and calls `changed` when their content differs. */
export class ContentWatch {
  private last: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly paths: readonly string[],
    private readonly intervalMs: number,
    private readonly changed: () => Promise<unknown>,
  ) {}

  /**
   * Starts polling from `baseline`, the fingerprint taken before the material in force was
   * read: a change that lands between that look and the load is then reloaded once more
   * rather than missed.
   */
  start(baseline: string): void {
    this.last = baseline;
    this.schedule();
  }

  /**
   * One look: true when the content differs from the last look, after `changed` has run. Looks
   * never overlap, so a slow reload is never started twice for one change.
   */
  check(): Promise<boolean> {
    const look = this.running.then(async () => {
      const now = await contentFingerprint(this.paths);
      if (now === this.last) return false;
      this.last = now;
      await this.changed();
      return true;
    });
    this.running = look.then(() => undefined);
    return look;
  }

  /** Stops polling; a look in progress finishes. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.check().finally(() => {
        this.schedule();
      });
    }, this.intervalMs);
    this.timer.unref();
  }
}
