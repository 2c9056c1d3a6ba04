/**
 * One HTTP request, HTTP/1.1 or HTTP/2 alike: from node's parsed request to our response,
 * with the line protocol's name rules, access rules, confinement and digests (RFC 9110 GET and
 * HEAD, RFC 9530 digests). Node keeps the framing; everything a client may read is decided
 * here. Produces one record per request for the log.
 */
import { createHash } from 'node:crypto';
import type { OutgoingHttpHeaders } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import type { FolderAuthorizer } from '../access.js';
import { isSecureStreamError } from '../errors.js';
import { nameInRoot, openInRoot, resolveInRoot, type OpenedFile } from '../files.js';
import { WireError, isWireErrorCode } from '../protocol.js';
import type { DigestCache } from '../transport/digestcache.js';
import { readExactly, type PositionalFile } from '../transport/filesource.js';
import type { PeerIdentity } from '../transport/peer.js';
import type { Authorizer } from '../access.js';
import type { BodyEncoder } from '../transport/body.js';
import {
  etagOf,
  evaluateConditions,
  httpDate,
  ifRangeHolds,
  type Validators,
} from './conditional.js';
import {
  PLAINTEXT_DIGEST_FIELD,
  SSTREAM_TYPE,
  legacyDigest,
  reprDigest,
  wantsLegacyDigest,
  wantsReprDigest,
} from './digestfields.js';
import type { HttpLimits } from './limits.js';
import { listFolder, MAX_LISTING_ENTRIES } from './listing.js';
import { HTML_TYPE, JSON_TYPE, listingHtml, listingJson, wantsJson } from './listview.js';
import { contentRange, evaluateRange, unsatisfiedRange } from './range.js';
import type { ResponseSink } from './sink.js';
import { HttpRefusal, RETRY_AFTER_SECONDS, errorResponse, type HttpOutcome } from './status.js';
import { parseTarget, targetOf } from './target.js';

export const ALLOWED_METHODS = 'GET, HEAD';

/** What a request is served with: plain values, one set per connection. */
export interface HttpContext {
  rootReal: string;
  authorize: Authorizer;
  folderVisible: FolderAuthorizer;
  digests: DigestCache;
  peer: PeerIdentity;
  /** This client's sstream-v1 encoder (serve --encrypt), else undefined; may throw WireError. */
  encoder: () => BodyEncoder | undefined;
  limits: HttpLimits;
  /** Called as the server reads a file for its digest: the client waits, but is not idle. */
  busy: () => void;
}

/** The parts of node's request (HTTP/1.1 or HTTP/2 compatibility API) the handler reads. */
export interface RequestHead {
  method: string;
  /** The request-target as sent (HTTP/2: `:path`). */
  url: string;
  headers: IncomingHttpHeaders;
  /** Header fields received, pseudo-header fields excluded. */
  fieldCount: number;
  /** HTTP/2: the header list's size as RFC 9113 §6.5.2 counts it (HTTP/1.1: node caps it). */
  headerBytes?: number;
}

/** One request in the log (docs/PROTOCOL.md, "Server log"). */
export interface RequestRecord {
  method: string;
  target: string;
  status: number;
  /** `ok`, a refusal code (`forbidden`, `not-found`, …) or `client-gone`/`file-changed`. */
  outcome: HttpOutcome;
  /** Body bytes sent. */
  bytes: number;
  range?: string;
  /** The file sent, relative to the root, when it is not the name asked for (a symlink). */
  served?: string;
  sha256?: string;
  plaintextSha256?: string;
  rule?: string;
  reason?: string;
}

/** The record of a request not answered yet. */
export function newRecord(head: RequestHead): RequestRecord {
  return { method: head.method, target: head.url, status: 0, outcome: 'ok', bytes: 0 };
}

/**
 * Answers one request and returns its record, `rec` itself, filled in as the response goes:
 * its `bytes` grow with the body while it is sent.
 */
export async function handleRequest(
  head: RequestHead,
  sink: ResponseSink,
  ctx: HttpContext,
  rec: RequestRecord = newRecord(head),
): Promise<RequestRecord> {
  const isHead = head.method === 'HEAD';
  try {
    if (head.method !== 'GET' && !isHead) {
      throw new HttpRefusal(405, 'method-not-allowed', `method ${head.method} is not allowed`, {
        allow: ALLOWED_METHODS,
      });
    }
    if (head.fieldCount > ctx.limits.maxHeaderCount) {
      throw new HttpRefusal(
        431,
        'header-too-large',
        `more than ${ctx.limits.maxHeaderCount} header fields`,
      );
    }
    if ((head.headerBytes ?? 0) > ctx.limits.maxHeaderBytes) {
      throw new HttpRefusal(
        431,
        'header-too-large',
        `request header over ${ctx.limits.maxHeaderBytes} bytes`,
      );
    }
    // Decided by the client's certificate alone, before any name: it reveals nothing.
    const encoder = ctx.encoder();
    const target = parseTarget(head.url);
    if (target.kind === 'folder') {
      const page = await listFolder({
        rootReal: ctx.rootReal,
        folder: target.name,
        peer: ctx.peer,
        authorize: ctx.authorize,
        folderVisible: ctx.folderVisible,
        digestOf: (st) => ctx.digests.get(st),
        after: target.after,
        limit: target.limit,
      });
      rec.rule = page.rule;
      const json = wantsJson(head.headers.accept);
      const limit =
        target.limit === undefined ? undefined : Math.min(target.limit, MAX_LISTING_ENTRIES);
      const body = Buffer.from(json ? listingJson(page, limit) : listingHtml(page, limit));
      rec.status = 200;
      sink.writeHead(200, {
        'content-type': json ? JSON_TYPE : HTML_TYPE,
        'content-length': body.length,
        'cache-control': 'private, no-cache',
        vary: 'Accept',
        'x-content-type-options': 'nosniff',
        'content-security-policy': "default-src 'none'",
      });
      rec.bytes = isHead ? 0 : body.length;
      await sink.end(isHead ? undefined : body);
    } else {
      await serveFile(head, sink, ctx, target.name, encoder, rec);
    }
  } catch (e) {
    await fail(e, head, sink, rec);
  }
  return rec;
}

async function serveFile(
  head: RequestHead,
  sink: ResponseSink,
  ctx: HttpContext,
  name: string,
  encoder: BodyEncoder | undefined,
  rec: RequestRecord,
): Promise<void> {
  const verdict = ctx.authorize(ctx.peer, name);
  rec.rule = verdict.rule;
  if (!verdict.allowed) {
    if (await redirectToFolder(sink, ctx, name, rec)) return;
    throw new WireError('forbidden', `denied by ${verdict.rule}`);
  }
  let opened: OpenedFile;
  try {
    opened = await openInRoot(ctx.rootReal, name);
  } catch (e) {
    if (e instanceof WireError && (await redirectToFolder(sink, ctx, name, rec))) return;
    throw e;
  }
  try {
    // A symlink inside the root may lead to a name the rules treat differently.
    const reached = nameInRoot(ctx.rootReal, opened.path);
    if (reached !== name) {
      rec.served = reached;
      const second = ctx.authorize(ctx.peer, reached);
      if (!second.allowed) {
        rec.rule = `${second.rule} via "${reached}"`;
        throw new WireError('forbidden', `denied by ${rec.rule}`);
      }
    }
    const st = opened.stat;
    const sha = await ctx.digests.ensure(st, () => hashFile(opened.handle, st, ctx.busy));
    if (encoder) {
      rec.plaintextSha256 = sha;
      await sendEncrypted(head, sink, opened, encoder, rec);
    } else {
      rec.sha256 = sha;
      await sendPlain(head, sink, opened, sha, rec);
    }
  } finally {
    await opened.handle.close().catch(() => undefined);
  }
}

async function sendPlain(
  head: RequestHead,
  sink: ResponseSink,
  opened: OpenedFile,
  sha: string,
  rec: RequestRecord,
): Promise<void> {
  const { stat: st, handle } = opened;
  const h = head.headers;
  const validators: Validators = { etag: etagOf(sha), mtimeMs: st.mtimeMs };
  const fields: OutgoingHttpHeaders = {
    etag: validators.etag,
    'last-modified': httpDate(st.mtimeMs),
    'accept-ranges': 'bytes',
    'cache-control': 'private',
    'x-content-type-options': 'nosniff',
    ...(wantsReprDigest(field(h['want-repr-digest'])) ? { 'repr-digest': reprDigest(sha) } : {}),
    ...(wantsLegacyDigest(field(h['want-digest'])) ? { digest: legacyDigest(sha) } : {}),
  };
  const cond = evaluateConditions(
    {
      ifMatch: field(h['if-match']),
      ifNoneMatch: field(h['if-none-match']),
      ifModifiedSince: field(h['if-modified-since']),
      ifUnmodifiedSince: field(h['if-unmodified-since']),
    },
    validators,
  );
  if (cond === 'precondition-failed') {
    throw new HttpRefusal(412, 'precondition-failed', 'the file does not match the precondition');
  }
  if (cond === 'not-modified') {
    rec.status = 304;
    sink.writeHead(304, fields);
    await sink.end();
    return;
  }
  let start = 0;
  let end = st.size; // exclusive
  let status = 200;
  if (h.range !== undefined && ifRangeHolds(field(h['if-range']), validators)) {
    const v = evaluateRange(h.range, st.size);
    if (v.kind === 'unsatisfiable') {
      throw new HttpRefusal(416, 'range-not-satisfiable', `no byte of "${h.range}" exists`, {
        'content-range': unsatisfiedRange(st.size),
      });
    }
    if (v.kind === 'partial') {
      status = 206;
      start = v.range.start;
      end = v.range.end + 1;
      fields['content-range'] = contentRange(v.range, st.size);
      rec.range = fields['content-range'];
    }
  }
  rec.status = status;
  sink.writeHead(status, {
    ...fields,
    'content-type': 'application/octet-stream',
    'content-length': end - start,
  });
  if (head.method === 'HEAD') {
    await sink.end();
    return;
  }
  if (end === start) {
    await sink.end();
    return;
  }
  for await (const b of readExactly(handle, st, { start, end })) {
    rec.bytes += b.length;
    // The last piece goes out with the end of the response: one write, no extra round.
    if (start + rec.bytes === end) await sink.end(b);
    else await sink.write(b);
  }
}

/**
 * serve --encrypt: the sstream-v1 file for this client's key, made afresh for every response,
 * so no ranges, no entity tag and no caching. The plaintext's digest goes in a header field;
 * the digest of the bytes sent is known only at the end and follows as a Repr-Digest trailer.
 */
async function sendEncrypted(
  head: RequestHead,
  sink: ResponseSink,
  opened: OpenedFile,
  encoder: BodyEncoder,
  rec: RequestRecord,
): Promise<void> {
  const { stat: st, handle } = opened;
  const length = encoder.length(st.size);
  rec.status = 200;
  sink.writeHead(200, {
    'content-type': encoder.mode === 'sstream-v1' ? SSTREAM_TYPE : 'application/octet-stream',
    [PLAINTEXT_DIGEST_FIELD]: reprDigest(rec.plaintextSha256 ?? ''),
    'last-modified': httpDate(st.mtimeMs),
    'accept-ranges': 'none',
    'cache-control': 'private, no-store',
    'x-content-type-options': 'nosniff',
    trailer: 'Repr-Digest',
    // HTTP/1.1 carries trailer fields only in chunked framing, which excludes Content-Length.
    ...(sink.http2 ? { 'content-length': length } : {}),
  });
  if (head.method === 'HEAD') {
    await sink.end();
    return;
  }
  const bodyHash = createHash('sha256');
  await encoder.pipe(readExactly(handle, st), (pieces) => {
    for (const b of pieces) {
      bodyHash.update(b);
      rec.bytes += b.length;
    }
    return sink.batch(pieces);
  });
  if (rec.bytes !== length) throw new Error(`body length ${rec.bytes} differs from ${length}`);
  rec.sha256 = bodyHash.digest('hex');
  if (wantsReprDigest(field(head.headers['want-repr-digest']))) {
    sink.addTrailers({ 'repr-digest': reprDigest(rec.sha256) });
  }
  await sink.end();
}

/** SHA-256 of the whole file, read now; throws `file-changed` if it changed meanwhile. */
async function hashFile(handle: PositionalFile, st: Stats, busy: () => void): Promise<string> {
  const hash = createHash('sha256');
  for await (const b of readExactly(handle, st)) {
    hash.update(b);
    busy();
  }
  return hash.digest('hex');
}

/** `/logs` names a folder the client may see: point it to `/logs/` (301). */
async function redirectToFolder(
  sink: ResponseSink,
  ctx: HttpContext,
  name: string,
  rec: RequestRecord,
): Promise<boolean> {
  const seen = ctx.folderVisible(ctx.peer, name);
  if (!seen.allowed) return false;
  try {
    const real = await resolveInRoot(ctx.rootReal, name);
    const reached = nameInRoot(ctx.rootReal, real);
    if (reached !== name && !ctx.folderVisible(ctx.peer, reached).allowed) return false;
    if (!(await stat(real)).isDirectory()) return false;
  } catch {
    return false;
  }
  const location = targetOf(name, true);
  rec.status = 301;
  rec.rule = seen.rule;
  rec.outcome = 'moved';
  const body = `moved: ${location}\n`;
  sink.writeHead(301, {
    location,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  await sink.end(body);
  return true;
}

/** Turns a failure into a response while the head is unsent, or into a cut after it. */
async function fail(
  e: unknown,
  head: RequestHead,
  sink: ResponseSink,
  rec: RequestRecord,
): Promise<void> {
  rec.reason = e instanceof Error ? e.message : String(e);
  let refusal: WireError | HttpRefusal;
  if (e instanceof WireError) {
    rec.outcome = isWireErrorCode(e.wireCode) ? e.wireCode : 'internal';
    refusal = e;
  } else if (e instanceof HttpRefusal) {
    rec.outcome = e.code;
    refusal = e;
  } else if (isSecureStreamError(e) && e.code === 'file-changed') {
    rec.outcome = e.code;
    refusal = new HttpRefusal(503, 'file-changed', 'the file is changing; try again', {
      'retry-after': String(RETRY_AFTER_SECONDS),
    });
  } else if (sink.closed || (isSecureStreamError(e) && e.code === 'client-gone')) {
    rec.outcome = 'client-gone';
    sink.cut();
    return;
  } else {
    rec.outcome = 'internal';
    refusal = new WireError('internal', rec.reason);
  }
  if (sink.headersSent || sink.closed) {
    // The head promised a body that can no longer be delivered whole: only a cut is honest.
    sink.cut();
    return;
  }
  const r = errorResponse(refusal);
  rec.status = r.status;
  sink.writeHead(r.status, {
    ...r.fields,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(r.body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  try {
    await sink.end(head.method === 'HEAD' ? undefined : r.body);
  } catch {
    rec.outcome = 'client-gone';
  }
}

/** A request field as one string (node joins repeated fields; set-cookie aside). */
function field(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}
