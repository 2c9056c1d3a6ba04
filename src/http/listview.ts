/**
 * A listing page as the client asked for it: the JSON format of docs/PROTOCOL.md (stable;
 * `securestream ls` and glob resolution read it) or a plain HTML page for browsers.
 */
import type { ListingEntry, ListingPage } from './listing.js';
import { targetOf } from './target.js';

/** The `format` member of every JSON listing; a change of meaning gets a new value. */
export const LISTING_FORMAT = 'securestream-listing/1';
export const JSON_TYPE = 'application/json';
export const HTML_TYPE = 'text/html; charset=utf-8';

/**
 * Whether the client asked for JSON: `Accept` names `application/json` with a q-value above
 * zero and at least as high as that of `text/html` (RFC 9110 §12.5.1). Browsers ask for HTML
 * first; curl's default `*\/*` gets HTML too.
 */
export function wantsJson(accept: string | undefined): boolean {
  if (accept === undefined || accept.length > 1024) return false;
  let json = 0;
  let html = 0;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!Number.isFinite(q)) continue;
    if (type === 'application/json') json = Math.max(json, q);
    if (type === 'text/html') html = Math.max(html, q);
  }
  return json > 0 && json >= html;
}

/** The request-target of the page after `page`, or undefined on the last page. */
export function nextTarget(page: ListingPage, limit?: number): string | undefined {
  if (page.after === undefined) return undefined;
  const q = new URLSearchParams({ after: page.after });
  if (limit !== undefined) q.set('limit', String(limit));
  return `${targetOf(page.folder, true)}?${q.toString().replace(/\+/g, '%20')}`;
}

/** One JSON document; see docs/PROTOCOL.md "Listings". */
export function listingJson(page: ListingPage, limit?: number): string {
  const next = nextTarget(page, limit);
  return `${JSON.stringify({
    format: LISTING_FORMAT,
    folder: page.folder === '' ? '' : `${page.folder}/`,
    entries: page.entries.map(entryJson),
    ...(next === undefined ? {} : { next }),
  })}\n`;
}

function entryJson(e: ListingEntry): Record<string, unknown> {
  return {
    name: e.name,
    type: e.type,
    ...(e.size === undefined ? {} : { size: e.size }),
    mtime: new Date(e.mtimeMs).toISOString(),
    ...(e.sha256 === undefined ? {} : { sha256: e.sha256 }),
  };
}

/** A plain page: a table of links, no script, no style, every name escaped. */
export function listingHtml(page: ListingPage, limit?: number): string {
  const title = `/${page.folder === '' ? '' : `${page.folder}/`}`;
  const rows = page.entries.map((e) => {
    const path = page.folder === '' ? e.name : `${page.folder}/${e.name}`;
    const href = targetOf(path, e.type === 'folder');
    const label = e.type === 'folder' ? `${e.name}/` : e.name;
    return (
      `<tr><td><a href="${escapeHtml(href)}">${escapeHtml(label)}</a></td>` +
      `<td>${e.size ?? ''}</td><td>${new Date(e.mtimeMs).toISOString()}</td>` +
      `<td><code>${e.sha256 ?? ''}</code></td></tr>`
    );
  });
  const up =
    page.folder === ''
      ? ''
      : `<p><a href="${escapeHtml(targetOf(page.folder.split('/').slice(0, -1).join('/'), true))}">../</a></p>`;
  const next = nextTarget(page, limit);
  return [
    '<!DOCTYPE html>',
    `<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body>`,
    `<h1>${escapeHtml(title)}</h1>`,
    up,
    '<table><thead><tr><th>name</th><th>bytes</th><th>modified (UTC)</th><th>sha256</th></tr></thead><tbody>',
    ...rows,
    '</tbody></table>',
    next === undefined ? '' : `<p><a href="${escapeHtml(next)}">next page</a></p>`,
    '</body></html>',
    '',
  ].join('\n');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
