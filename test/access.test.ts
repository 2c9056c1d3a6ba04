import { strict as assert } from 'node:assert';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { ALLOW_ALL, loadAccessRules, parseAccessRules } from '../src/access.js';
import { SecureStreamError } from '../src/errors.js';
import type { PeerIdentity } from '../src/transport/peer.js';
import { tempDir } from './helpers/proc.js';

const RUNS = process.env['SLOW'] ? 20_000 : 300;
const FP = 'ab'.repeat(32);

function peer(p: Partial<PeerIdentity> = {}): PeerIdentity {
  return {
    subject: `CN=${p.commonName ?? 'alice'}`,
    commonName: 'alice',
    fingerprint256: FP,
    dnsNames: [],
    emails: [],
    uris: [],
    ...p,
  };
}

function rules(yaml: string) {
  return parseAccessRules(yaml, 'dir/rules.yaml');
}

function failure(yaml: string): { code: string; message: string } {
  try {
    rules(yaml);
  } catch (e) {
    assert.ok(e instanceof SecureStreamError, String(e));
    return { code: e.code, message: e.message };
  }
  assert.fail('expected the rules to be refused');
}

describe('access rules: validation', () => {
  const table: [string, string, string][] = [
    ['unknown key in a rule', 'rules:\n  - cn: a\n    paths: [x]\n', 'line 3: unknown key "paths"'],
    ['unknown top-level key', 'rules: []\nversion: 2\n', 'line 2: unknown key "version"'],
    ['no rules key', 'allow: [x]\n', 'line 1: unknown key "allow"'],
    ['rules not a list', 'rules:\n  cn: a\n', 'line 2: "rules" must be a list of rules'],
    ['rule not a mapping', 'rules:\n  - alice\n', 'line 2: rule 1 must be a mapping'],
    [
      'neither allow nor deny',
      'rules:\n  - cn: a\n',
      'line 2: rule 1 has neither "allow" nor "deny"',
    ],
    [
      'both allow and deny',
      'rules:\n  - cn: a\n    allow: x\n    deny: y\n',
      'line 4: a rule has either "allow" or "deny", not both',
    ],
    ['no identity', 'rules:\n  - allow: ["**"]\n', 'line 2: rule 1 names no identity'],
    [
      'anyone with another identity',
      'rules:\n  - anyone: true\n    cn: a\n    allow: x\n',
      'line 2: rule 1: "anyone" cannot be combined with cn',
    ],
    [
      'anyone not true',
      'rules:\n  - anyone: yes please\n    allow: x\n',
      'line 2: "anyone" must be true',
    ],
    [
      'short fingerprint',
      'rules:\n  - fingerprint: abcd\n    allow: x\n',
      'line 2: invalid fingerprint "abcd": expected 64 hex digits',
    ],
    ['bad email', 'rules:\n  - email: nobody\n    allow: x\n', 'line 2: invalid email "nobody"'],
    [
      'negated glob',
      'rules:\n  - cn: a\n    allow: ["!secret/**"]\n',
      'line 3: invalid glob "!secret/**": negation is not supported',
    ],
    [
      'absolute glob',
      'rules:\n  - cn: a\n    allow: /etc/*\n',
      'line 3: invalid glob "/etc/*": absolute',
    ],
    [
      'dot-dot glob',
      'rules:\n  - cn: a\n    allow: ../x\n',
      'line 3: invalid glob "../x": "." and ".."',
    ],
    [
      'empty segment',
      'rules:\n  - cn: a\n    allow: a//b\n',
      'line 3: invalid glob "a//b": empty path segment',
    ],
    ['empty list', 'rules:\n  - cn: a\n    allow: []\n', 'line 3: "allow" is an empty list'],
    [
      'non-string value',
      'rules:\n  - cn: a\n    allow: [{x: 1}]\n',
      'line 3: "allow" must be a string',
    ],
    [
      'duplicate key',
      'rules:\n  - cn: a\n    cn: b\n    allow: x\n',
      'line 3: invalid YAML: map keys must be unique',
    ],
    ['broken yaml', 'rules:\n  - cn: "a\n', 'invalid YAML'],
    ['empty file', '', 'expected a mapping with the key "rules"'],
  ];
  for (const [what, yaml, text] of table) {
    it(`refuses ${what}`, () => {
      const f = failure(yaml);
      assert.equal(f.code, 'access-invalid');
      assert.ok(f.message.startsWith('access rules "dir/rules.yaml"'), f.message);
      assert.ok(f.message.includes(text), `${f.message}\n  lacks: ${text}`);
    });
  }

  it('accepts JSON, which is YAML', () => {
    const p = rules('{"rules": [{"cn": "alice", "allow": ["*.txt"]}]}');
    assert.equal(p.rules.length, 1);
    assert.equal(p.authorize(peer(), 'a.txt').allowed, true);
  });

  it('an empty rule list denies everyone', () => {
    const v = rules('rules: []\n').authorize(peer(), 'a.txt');
    assert.deepEqual(v, { allowed: false, rule: 'rules.yaml (no rule matched: denied)' });
  });
});

describe('access rules: decisions', () => {
  const policy = rules(`
rules:
  - cn: alice
    deny: ["secret/**"]
  - cn: alice
    allow: ["**", ".well-known/**"]
  - fingerprint: "${FP.toUpperCase().match(/../g)?.join(':') ?? ''}"
    allow: ["pinned/*"]
  - dns: Build.Example.org
    allow: artifacts/**
  - email: Ops@Example.ORG
    allow: ops/*
  - uri: spiffe://example.org/ci
    allow: ci/*
  - cn: [carol, dave]
    fingerprint: "${'cd'.repeat(32)}"
    allow: both/*
  - anyone: true
    allow: public/*
`);
  const decide = (p: PeerIdentity, name: string): string => {
    const v = policy.authorize(p, name);
    return `${v.allowed ? 'allow' : 'deny'} ${v.rule}`;
  };
  const bob = peer({ commonName: 'bob', fingerprint256: '00'.repeat(32) });
  const table: [string, PeerIdentity, string, string][] = [
    ['first match wins: deny before allow', peer(), 'secret/a', 'deny rules.yaml#1 (cn=alice)'],
    ['deny wildcards cover dotfiles', peer(), 'secret/.key', 'deny rules.yaml#1 (cn=alice)'],
    ['allow ** covers nested paths', peer(), 'a/b/c.txt', 'allow rules.yaml#2 (cn=alice)'],
    [
      'allow ** skips dotfiles',
      peer({ fingerprint256: '00'.repeat(32) }),
      '.env',
      'deny rules.yaml (no rule matched: denied)',
    ],
    [
      'allow ** skips dot folders',
      peer({ fingerprint256: '00'.repeat(32) }),
      'a/.git/config',
      'deny rules.yaml (no rule matched: denied)',
    ],
    ['an explicit dot pattern matches', peer(), '.well-known/x', 'allow rules.yaml#2 (cn=alice)'],
    [
      'fingerprint with colons, any case',
      bob,
      'pinned/x',
      'deny rules.yaml (no rule matched: denied)',
    ],
    [
      'fingerprint match',
      peer({ commonName: 'zed' }),
      'pinned/x',
      `allow rules.yaml#3 (fingerprint=${FP})`,
    ],
    [
      '* does not cross /',
      peer({ commonName: 'zed' }),
      'pinned/a/b',
      'deny rules.yaml (no rule matched: denied)',
    ],
    [
      'dns, case-insensitive',
      peer({ commonName: undefined, dnsNames: ['build.EXAMPLE.org'] }),
      'artifacts/x/y',
      'allow rules.yaml#4 (dns=build.example.org)',
    ],
    [
      'email, domain case-insensitive',
      peer({ commonName: 'x', emails: ['Ops@example.org'] }),
      'ops/a',
      'allow rules.yaml#5 (email=Ops@example.org)',
    ],
    [
      'email local part is exact',
      peer({ commonName: 'x', emails: ['ops@example.org'] }),
      'ops/a',
      'deny rules.yaml (no rule matched: denied)',
    ],
    [
      'uri',
      peer({ commonName: 'x', uris: ['spiffe://example.org/ci'] }),
      'ci/a',
      'allow rules.yaml#6 (uri=spiffe://example.org/ci)',
    ],
    [
      'selectors in one rule must all match',
      peer({ commonName: 'dave' }),
      'both/a',
      'deny rules.yaml (no rule matched: denied)',
    ],
    [
      '...and then it matches',
      peer({ commonName: 'dave', fingerprint256: 'cd'.repeat(32) }),
      'both/a',
      `allow rules.yaml#7 (cn=carol|dave, fingerprint=${'cd'.repeat(32)})`,
    ],
    ['anyone', bob, 'public/a', 'allow rules.yaml#8 (anyone)'],
    ['no match denies', bob, 'private/a', 'deny rules.yaml (no rule matched: denied)'],
    [
      'a CN that merely contains the name does not match',
      peer({ commonName: 'alice2', fingerprint256: '00'.repeat(32) }),
      'a',
      'deny rules.yaml (no rule matched: denied)',
    ],
  ];
  for (const [what, p, name, expected] of table) {
    it(what, () => {
      assert.equal(decide(p, name), expected);
    });
  }

  it('without --access every certificate may read everything', () => {
    assert.equal(ALLOW_ALL(bob, 'any/thing').allowed, true);
  });

  it('never throws and never allows a deny-all policy (property)', () => {
    const denyAll = rules(
      'rules:\n  - anyone: true\n    deny: "**"\n  - anyone: true\n    allow: "**"\n',
    );
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 200 }), fc.string(), (name, cn) => {
        const p = peer({ commonName: cn });
        assert.equal(denyAll.authorize(p, name).allowed, false);
        assert.equal(typeof policy.authorize(p, name).allowed, 'boolean');
      }),
      { numRuns: RUNS },
    );
  });
});

describe('access rules: files', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    dir = await tempDir();
  });
  after(async () => {
    await dir.remove();
  });

  it('a missing file is access-unreadable and names the path', async () => {
    await assert.rejects(loadAccessRules(join(dir.path, 'nope.yaml')), (e: unknown) => {
      assert.ok(e instanceof SecureStreamError);
      assert.equal(e.code, 'access-unreadable');
      assert.match(e.message, /^access rules ".*nope\.yaml" do not exist$/);
      return true;
    });
  });

  it('a file over 1 MiB is refused', async () => {
    const big = join(dir.path, 'big.yaml');
    await writeFile(big, `rules: []\n${'#'.repeat(1024 * 1024)}\n`);
    await assert.rejects(loadAccessRules(big), /larger than 1048576 bytes/);
  });

  it('labels rules by file name and position', async () => {
    const f = join(dir.path, 'team.yml');
    await writeFile(f, '# comment\nrules:\n  - cn: a\n    allow: x\n  - cn: b\n    deny: y\n');
    const p = await loadAccessRules(f);
    assert.deepEqual(
      p.rules.map((r) => [r.index, r.line, r.label, r.effect]),
      [
        [1, 3, 'team.yml#1 (cn=a)', 'allow'],
        [2, 5, 'team.yml#2 (cn=b)', 'deny'],
      ],
    );
  });
});
