/**
 * Access rules (`serve --access FILE`): which client identities may read which names under the
 * root. A YAML (or JSON) file, validated in full at start and at every reload; errors name the
 * line. Rules are tried in order and the first whose identity and path both match decides
 * (allow or deny); when none matches, the request is denied. See docs/SECURITY.md.
 *
 * Rules see the name the client asked for, before the file system is touched, so a denied
 * client learns nothing about what exists; confinement (files.ts) applies afterwards, and the
 * session checks the rules again on the resolved path when a symlink inside the root led
 * elsewhere, so neither a glob nor a link can widen what a client may read.
 */
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import picomatch from 'picomatch';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import { SecureStreamError, errnoCode } from './errors.js';
import { folderMatcher } from './globfolder.js';
import type { PeerIdentity } from './transport/peer.js';

/** Rules files larger than this are refused: a hand-written policy is far smaller. */
export const MAX_ACCESS_FILE_BYTES = 1024 * 1024;
/** Longest glob accepted, in bytes: a name is at most 1024 bytes (PROTOCOL.md §2.1). */
export const MAX_GLOB_BYTES = 1024;

/** Identity selectors a rule may use; several in one rule must all match. */
export const IDENTITY_KEYS = ['cn', 'dns', 'email', 'uri', 'fingerprint'] as const;
type IdentityKey = (typeof IDENTITY_KEYS)[number];
const RULE_KEYS = new Set<string>([...IDENTITY_KEYS, 'anyone', 'allow', 'deny']);

/** Decides whether an identity may read a name; `rule` names what decided, for the log. */
export type Authorizer = (peer: PeerIdentity, name: string) => { allowed: boolean; rule: string };

/** The authorizer used without `--access`: the CA decides, every path is readable. */
export const ALLOW_ALL: Authorizer = () => ({
  allowed: true,
  rule: 'default (any certificate from the CA)',
});

/**
 * Decides whether an identity may see a folder (`''` is the root) in a listing, and so learn
 * that it exists: only when a rule could grant it something below that folder.
 */
export type FolderAuthorizer = (
  peer: PeerIdentity,
  folder: string,
) => { allowed: boolean; rule: string };

/** Without `--access` every folder under the root is visible. */
export const SHOW_ALL_FOLDERS: FolderAuthorizer = () => ({
  allowed: true,
  rule: 'default (any certificate from the CA)',
});

/** One validated rule. `label` is what the server log shows in its `rule` field. */
export interface AccessRule {
  /** 1-based position in the file. */
  index: number;
  line: number;
  label: string;
  effect: 'allow' | 'deny';
  matchesPeer(peer: PeerIdentity): boolean;
  matchesPath(name: string): boolean;
  /** Some name below `folder` (split into segments) matches one of the rule's globs. */
  reachesUnder(folder: readonly string[]): boolean;
  /** Every name below `folder` matches one of the rule's globs. */
  coversAllUnder(folder: readonly string[]): boolean;
}

export interface AccessPolicy {
  /** The file the rules came from, as given. */
  source: string;
  rules: AccessRule[];
  authorize: Authorizer;
  folderVisible: FolderAuthorizer;
}

/** Reads and validates a rules file; every problem is an `access-invalid` error with a line. */
export async function loadAccessRules(path: string): Promise<AccessPolicy> {
  let text: string;
  try {
    const handle = await open(path, 'r');
    try {
      const buf = Buffer.alloc(MAX_ACCESS_FILE_BYTES + 1);
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
      if (bytesRead > MAX_ACCESS_FILE_BYTES) {
        throw new SecureStreamError(
          'access-invalid',
          `access rules "${path}" are larger than ${MAX_ACCESS_FILE_BYTES} bytes`,
        );
      }
      text = buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
  } catch (e) {
    if (e instanceof SecureStreamError) throw e;
    const code = errnoCode(e);
    throw new SecureStreamError(
      'access-unreadable',
      code === 'ENOENT'
        ? `access rules "${path}" do not exist`
        : `cannot read access rules "${path}": ${code ?? String(e)}`,
      code === 'ENOENT'
        ? 'pass the rules file with --access FILE, or leave --access out'
        : undefined,
    );
  }
  return parseAccessRules(text, path);
}

/** Validates rules text (YAML or JSON); `path` names the file in errors and log labels. */
export function parseAccessRules(text: string, path: string): AccessPolicy {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const fail = (at: number | undefined, message: string): SecureStreamError =>
    new SecureStreamError(
      'access-invalid',
      `access rules "${path}"${at === undefined ? '' : ` line ${lines.linePos(at).line}`}: ${message}`,
      'see "Access rules" in docs/SECURITY.md',
    );
  const first = doc.errors[0];
  if (first) throw fail(first.pos[0], `invalid YAML: ${first.message.toLowerCase()}`);
  const top = doc.contents;
  if (!isMap(top)) throw fail(at(top), 'expected a mapping with the key "rules"');
  let rulesNode: Node | undefined;
  for (const pair of top.items) {
    const key = keyOf(pair.key);
    if (key !== 'rules') throw fail(at(pair.key), `unknown key "${String(key)}"`);
    rulesNode = pair.value as Node | undefined;
  }
  if (!isSeq(rulesNode)) {
    throw fail(rulesNode ? at(rulesNode) : 0, '"rules" must be a list of rules');
  }
  const file = basename(path);
  const rules = rulesNode.items.map((item, i) => {
    const node = item as Node;
    return parseRule(node, i + 1, lines.linePos(at(node)).line, file, fail);
  });
  return {
    source: path,
    rules,
    authorize: authorizerFor(rules, file),
    folderVisible: folderAuthorizerFor(rules, file),
  };
}

/**
 * Rules in order: the first that applies to the peer and either may allow something below the
 * folder (allow) or denies everything below it (deny) decides. The root is always visible:
 * that it exists says nothing, and its listing shows only what the rules allow.
 */
function folderAuthorizerFor(rules: readonly AccessRule[], file: string): FolderAuthorizer {
  return (peer, folder) => {
    if (folder === '') return { allowed: true, rule: `${file} (the root)` };
    const segs = folder.split('/');
    for (const r of rules) {
      if (!r.matchesPeer(peer)) continue;
      if (r.effect === 'allow' ? r.reachesUnder(segs) : r.coversAllUnder(segs)) {
        return { allowed: r.effect === 'allow', rule: r.label };
      }
    }
    return { allowed: false, rule: `${file} (no rule matched: denied)` };
  };
}

/** First match wins; no match denies. */
function authorizerFor(rules: readonly AccessRule[], file: string): Authorizer {
  return (peer, name) => {
    for (const r of rules) {
      if (r.matchesPeer(peer) && r.matchesPath(name)) {
        return { allowed: r.effect === 'allow', rule: r.label };
      }
    }
    return { allowed: false, rule: `${file} (no rule matched: denied)` };
  };
}

type Fail = (at: number | undefined, message: string) => SecureStreamError;

function parseRule(node: Node, index: number, line: number, file: string, fail: Fail): AccessRule {
  if (!isMap(node)) throw fail(at(node), `rule ${index} must be a mapping`);
  const selectors: { key: IdentityKey; values: string[] }[] = [];
  let anyone = false;
  let effect: 'allow' | 'deny' | undefined;
  let globs: string[] = [];
  for (const pair of node.items) {
    const key = keyOf(pair.key);
    const keyAt = at(pair.key);
    const value = pair.value as Node | null;
    if (typeof key !== 'string' || !RULE_KEYS.has(key)) {
      throw fail(keyAt, `unknown key "${String(key)}"`);
    }
    if (key === 'anyone') {
      if (!isScalar(value) || value.value !== true) {
        throw fail(keyAt, '"anyone" must be true (or left out)');
      }
      anyone = true;
    } else if (key === 'allow' || key === 'deny') {
      if (effect) throw fail(keyAt, 'a rule has either "allow" or "deny", not both');
      effect = key;
      globs = stringList(value, key, keyAt, fail).map((g) => checkGlob(g, keyAt, fail));
    } else {
      const values = stringList(value, key, keyAt, fail).map((v) =>
        normalizeIdentity(key as IdentityKey, v, keyAt, fail),
      );
      selectors.push({ key: key as IdentityKey, values });
    }
  }
  const ruleAt = at(node);
  if (anyone && selectors.length > 0) {
    throw fail(ruleAt, `rule ${index}: "anyone" cannot be combined with ${selectors[0]?.key}`);
  }
  if (!anyone && selectors.length === 0) {
    throw fail(
      ruleAt,
      `rule ${index} names no identity: use ${IDENTITY_KEYS.join(', ')} or "anyone: true"`,
    );
  }
  if (!effect) throw fail(ruleAt, `rule ${index} has neither "allow" nor "deny"`);
  // Wildcards in an allow list skip dotfiles (`**` does not grant `.env`); in a deny list they
  // cover them, so a deny is never narrower than it reads.
  const match = picomatch(globs, {
    dot: effect === 'deny',
    nonegate: true,
    noextglob: true,
    windows: false,
  });
  const folders = globs.map((g) => folderMatcher(g, effect === 'deny'));
  const who = anyone ? 'anyone' : selectors.map((s) => `${s.key}=${s.values.join('|')}`).join(', ');
  return {
    index,
    line,
    label: `${file}#${index} (${who})`,
    effect,
    matchesPeer: (peer) => anyone || selectors.every((s) => matchesSelector(s.key, s.values, peer)),
    matchesPath: (name) => match(name),
    reachesUnder: (folder) => folders.some((f) => f.reachesUnder(folder)),
    coversAllUnder: (folder) => folders.some((f) => f.coversAllUnder(folder)),
  };
}

function matchesSelector(key: IdentityKey, values: string[], peer: PeerIdentity): boolean {
  switch (key) {
    case 'cn':
      return peer.commonName !== undefined && values.includes(peer.commonName);
    case 'fingerprint':
      return values.includes(peer.fingerprint256);
    case 'dns':
      return peer.dnsNames.some((d) => values.includes(d.toLowerCase()));
    case 'email':
      return peer.emails.some((e) => values.includes(normalizeEmail(e)));
    case 'uri':
      return peer.uris.some((u) => values.includes(u));
  }
}

function normalizeIdentity(key: IdentityKey, value: string, keyAt: number, fail: Fail): string {
  if (value === '' || hasControl(value)) {
    throw fail(keyAt, `invalid ${key} "${value}"`);
  }
  if (key === 'fingerprint') {
    const hex = value.replace(/:/g, '').toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(hex)) {
      throw fail(keyAt, `invalid fingerprint "${value}": expected 64 hex digits (SHA-256)`);
    }
    return hex;
  }
  if (key === 'dns') return value.toLowerCase();
  if (key === 'email') {
    if (!/^[^@\s]+@[^@\s]+$/.test(value)) throw fail(keyAt, `invalid email "${value}"`);
    return normalizeEmail(value);
  }
  return value;
}

/** The domain of an address is case-insensitive; the local part is compared as written. */
function normalizeEmail(e: string): string {
  const i = e.lastIndexOf('@');
  return i < 0 ? e : e.slice(0, i) + e.slice(i).toLowerCase();
}

/**
 * A glob is matched against the requested name, which the protocol already restricts to a
 * relative path without `.`/`..` or empty segments; a glob that could only match something
 * else is a mistake, and a leading `!` would turn an allow list into "everything except".
 */
function checkGlob(glob: string, keyAt: number, fail: Fail): string {
  const bad = (why: string): SecureStreamError => fail(keyAt, `invalid glob "${glob}": ${why}`);
  if (glob === '') throw bad('empty');
  if (Buffer.byteLength(glob) > MAX_GLOB_BYTES) throw bad(`longer than ${MAX_GLOB_BYTES} bytes`);
  if (hasControl(glob)) throw bad('control character');
  if (glob.startsWith('/')) throw bad('absolute; globs are relative to the root');
  if (glob.startsWith('!')) throw bad('negation is not supported; use a "deny" rule');
  const segments = glob.split('/');
  if (segments.some((s) => s === '.' || s === '..')) throw bad('"." and ".." segments never match');
  if (segments.some((s) => s === '')) throw bad('empty path segment');
  return glob;
}

function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

function stringList(value: Node | null, key: string, keyAt: number, fail: Fail): string[] {
  const one = (n: unknown): string => {
    if (isScalar(n) && (typeof n.value === 'string' || typeof n.value === 'number')) {
      return String(n.value);
    }
    throw fail(isNode(n) ? at(n) : keyAt, `"${key}" must be a string or a list of strings`);
  };
  if (isSeq(value)) {
    if (value.items.length === 0) throw fail(keyAt, `"${key}" is an empty list`);
    return value.items.map(one);
  }
  return [one(value)];
}

function keyOf(n: unknown): unknown {
  return isScalar(n) ? n.value : n;
}

function isNode(n: unknown): n is Node {
  return typeof n === 'object' && n !== null && 'range' in n;
}

function at(n: unknown): number {
  return isNode(n) ? (n.range?.[0] ?? 0) : 0;
}
