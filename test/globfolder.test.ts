import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { folderMatcher } from '../src/globfolder.js';
import { parseAccessRules } from '../src/access.js';
import type { PeerIdentity } from '../src/transport/peer.js';

const segs = (f: string): string[] => (f === '' ? [] : f.split('/'));

describe('globs against folders', () => {
  const reach: [string, string, boolean, boolean][] = [
    // glob, folder, dot, reaches something below it
    ['**', 'a', false, true],
    ['**', 'a/b/c', false, true],
    ['**', '.git', false, false],
    ['**', 'a/.hidden', false, false],
    ['**', '.git', true, true],
    ['.git/**', '.git', false, true],
    ['logs/**/*.gz', 'logs', false, true],
    ['logs/**/*.gz', 'logs/2026/01', false, true],
    ['logs/**/*.gz', 'data', false, false],
    ['logs/*.gz', 'logs', false, true],
    ['logs/*.gz', 'logs/2026', false, false],
    ['logs', 'logs', false, false],
    ['*/public/*', 'alice', false, true],
    ['*/public/*', 'alice/public', false, true],
    ['*/public/*', 'alice/private', false, false],
    ['{logs,data}/*', 'data', false, true],
    ['{logs,data}/*', 'tmp', false, false],
    ['{a,b/c}/*.x', 'b', false, true], // spans a slash: judged by its static base
    ['x/{a,b/c}/*.x', 'y', false, false],
  ];
  for (const [glob, folder, dot, want] of reach) {
    it(`${glob} ${want ? 'reaches' : 'does not reach'} under ${folder}${dot ? ' (dot)' : ''}`, () => {
      assert.equal(folderMatcher(glob, dot).reachesUnder(segs(folder)), want);
    });
  }

  const covers: [string, string, boolean][] = [
    ['**', 'a', true],
    ['secret/**', 'secret', true],
    ['secret/**', 'secret/deeper', true],
    ['secret/**', 'public', false],
    ['secret/*', 'secret', false],
    ['*/secret/**', 'alice/secret', true],
    ['*/secret/**', 'alice', false],
    ['**/secret/**', 'a/b/secret/c', true],
  ];
  for (const [glob, folder, want] of covers) {
    it(`${glob} ${want ? 'covers' : 'does not cover'} all under ${folder}`, () => {
      assert.equal(folderMatcher(glob, true).coversAllUnder(segs(folder)), want);
    });
  }

  it('covers nothing when the rule skips dotfiles', () => {
    assert.equal(folderMatcher('secret/**', false).coversAllUnder(['secret']), false);
  });
});

describe('access rules: folder visibility', () => {
  const alice: PeerIdentity = {
    subject: 'CN=alice',
    commonName: 'alice',
    fingerprint256: 'ab'.repeat(32),
    dnsNames: [],
    emails: [],
    uris: [],
  };
  const bob: PeerIdentity = { ...alice, subject: 'CN=bob', commonName: 'bob' };
  const policy = parseAccessRules(
    [
      'rules:',
      '  - cn: alice',
      '    deny: private/**',
      '  - cn: alice',
      '    deny: public/*.key',
      '  - cn: alice',
      '    allow: ["public/**", "private/**", "shared/*.txt"]',
      '  - cn: bob',
      '    allow: "**"',
    ].join('\n'),
    'rules.yaml',
  );
  const table: [PeerIdentity, string, boolean, string][] = [
    [alice, '', true, 'rules.yaml (the root)'],
    [alice, 'public', true, 'rules.yaml#3 (cn=alice)'],
    [alice, 'public/deep/er', true, 'rules.yaml#3 (cn=alice)'],
    [alice, 'private', false, 'rules.yaml#1 (cn=alice)'],
    [alice, 'private/sub', false, 'rules.yaml#1 (cn=alice)'],
    [alice, 'shared', true, 'rules.yaml#3 (cn=alice)'],
    [alice, 'shared/sub', false, 'rules.yaml (no rule matched: denied)'],
    [alice, 'other', false, 'rules.yaml (no rule matched: denied)'],
    [bob, 'private', true, 'rules.yaml#4 (cn=bob)'],
    [bob, '.git', false, 'rules.yaml (no rule matched: denied)'],
  ];
  for (const [peer, folder, allowed, rule] of table) {
    it(`${peer.commonName ?? ''} ${allowed ? 'sees' : 'does not see'} "${folder}"`, () => {
      assert.deepEqual(policy.folderVisible(peer, folder), { allowed, rule });
    });
  }
});
