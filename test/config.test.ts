import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  SERVE_DEFAULTS,
  materialPaths,
  parseCidr,
  parseDuration,
  parseHostPort,
  parsePort,
  parseSize,
  parseStatusListen,
  parseWorkers,
  serveOptions,
  type ServeFlags,
} from '../src/config.js';
import { UsageError } from '../src/errors.js';
import { resolveTlsPolicy } from '../src/transport/tls.js';
import type { TrustedNetwork } from '../src/transport/preface.js';

const usage = (f: () => unknown, re: RegExp): void => {
  assert.throws(f, (e: unknown) => e instanceof UsageError && re.test(e.message));
};

describe('sizes', () => {
  const table: [string, number][] = [
    ['1000', 1000],
    ['64KiB', 65536],
    ['64MiB', 64 * 1024 ** 2],
    ['1GiB', 1024 ** 3],
    ['1kb', 1000],
    ['1.5GB', 1.5e9],
    ['0', 0],
    ['7B', 7],
  ];
  for (const [text, n] of table)
    it(`${text} = ${n}`, () => {
      assert.equal(parseSize(text), n);
    });
  for (const bad of ['', 'x', '1XB', '-1', '1.5', '1e3'])
    it(`rejects "${bad}"`, () => {
      usage(() => parseSize(bad), /invalid size/);
    });
});

describe('flags', () => {
  it('--pki with --ca is a conflict naming both', () => {
    usage(
      () => materialPaths({ pki: 'p', ca: 'c' }, 'client'),
      /--pki cannot be combined with --ca/,
    );
  });
  it('--ca alone names what is missing', () => {
    usage(() => materialPaths({ ca: 'c' }, 'client'), /--ca given without --cert, --key/);
  });
  it('defaults to ./pki', () => {
    assert.deepEqual(materialPaths({}, 'server'), {
      caPath: 'pki/ca.crt',
      certPath: 'pki/server.crt',
      keyPath: 'pki/server.key',
    });
  });
  it('ports', () => {
    assert.equal(parsePort('0'), 0);
    assert.equal(parsePort('65535'), 65535);
    usage(() => parsePort('65536'), /invalid --port/);
    usage(() => parsePort('http'), /invalid --port/);
  });
  it('durations', () => {
    assert.equal(parseDuration('30s', '--x'), 30_000);
    assert.equal(parseDuration('500ms', '--x'), 500);
    assert.equal(parseDuration('2m', '--x'), 120_000);
    assert.equal(parseDuration('5', '--x'), 5000);
    usage(() => parseDuration('0s', '--grace'), /invalid --grace "0s"/);
  });
  it('server addresses', () => {
    assert.deepEqual(parseHostPort('localhost:8443', 1), { host: 'localhost', port: 8443 });
    assert.deepEqual(parseHostPort('example', 8443), { host: 'example', port: 8443 });
    assert.deepEqual(parseHostPort('[::1]:9', 1), { host: '::1', port: 9 });
    assert.deepEqual(parseHostPort('::1', 7), { host: '::1', port: 7 });
    usage(() => parseHostPort('h:99999', 1), /invalid server address/);
  });
});

describe('TLS policy', () => {
  it('defaults to the ECDHE AES-128-GCM suite matching the key, TLS 1.2 only', () => {
    assert.deepEqual(resolveTlsPolicy({ keyKind: 'ec' }), {
      ciphers: ['ECDHE-ECDSA-AES128-GCM-SHA256'],
      tlsMax: '1.2',
    });
    assert.deepEqual(resolveTlsPolicy({ keyKind: 'rsa' }), {
      ciphers: ['ECDHE-RSA-AES128-GCM-SHA256'],
      tlsMax: '1.2',
    });
  });
  it('keeps the order given and drops suites the key cannot serve', () => {
    assert.deepEqual(
      resolveTlsPolicy({
        keyKind: 'rsa',
        ciphers: [
          'aes128-gcm-sha256',
          'ECDHE-ECDSA-AES128-GCM-SHA256',
          'ECDHE-RSA-AES256-GCM-SHA384',
        ],
      }).ciphers,
      ['AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384'],
    );
  });
  it('adds the TLS 1.3 AES-128-GCM suite when 1.3 is allowed and none is named', () => {
    assert.deepEqual(resolveTlsPolicy({ keyKind: 'ec', tlsMax: '1.3' }).ciphers, [
      'ECDHE-ECDSA-AES128-GCM-SHA256',
      'TLS_AES_128_GCM_SHA256',
    ]);
  });
  it('refuses a list no suite of which fits the key', () => {
    assert.throws(
      () => resolveTlsPolicy({ keyKind: 'ec', ciphers: ['AES128-GCM-SHA256'] }),
      /needs an RSA key/,
    );
  });
  it('refuses CBC and unknown suites', () => {
    usage(
      () => resolveTlsPolicy({ keyKind: 'rsa', ciphers: ['AES128-SHA'] }),
      /unknown or weak cipher suite "AES128-SHA"/,
    );
  });
});

describe('serve flags', () => {
  const flags = (extra: Partial<ServeFlags> = {}): ServeFlags => ({ ...SERVE_DEFAULTS, ...extra });

  it('defaults: port 8443, TLS 1.2, one worker, the PKI folder crl.pem, no access rules', () => {
    const o = serveOptions(flags());
    assert.equal(o.port, 8443);
    assert.equal(o.tlsMax, '1.2');
    assert.equal(o.workers, 1);
    assert.deepEqual(o.crl, { kind: 'pki', dir: 'pki' });
    assert.equal(o.accessPath, undefined);
    assert.deepEqual(o.limits, {
      handshakeTimeoutMs: 10_000,
      requestTimeoutMs: 10_000,
      idleTimeoutMs: 60_000,
      maxConnections: 512,
      maxConnectionsPerAddress: 64,
    });
    assert.equal(o.graceMs, 60_000);
    assert.equal(o.http, true);
    assert.deepEqual(o.httpLimits, {
      maxHeaderBytes: 16 * 1024,
      maxHeaderCount: 100,
      maxRequestsPerConnection: 1000,
      keepAliveIdleMs: 15_000,
      headerTimeoutMs: 10_000,
      maxConcurrentStreams: 100,
    });
  });

  it('HTTP: --no-http, --keep-alive-timeout, --max-requests-per-connection; --request-timeout bounds the header', () => {
    const o = serveOptions(
      flags({
        http: false,
        keepAliveTimeout: '2s',
        maxRequestsPerConnection: '7',
        requestTimeout: '3s',
      }),
    );
    assert.equal(o.http, false);
    assert.equal(o.httpLimits.keepAliveIdleMs, 2000);
    assert.equal(o.httpLimits.maxRequestsPerConnection, 7);
    assert.equal(o.httpLimits.headerTimeoutMs, 3000);
    usage(() => serveOptions(flags({ keepAliveTimeout: 'soon' })), /--keep-alive-timeout/);
    usage(
      () => serveOptions(flags({ maxRequestsPerConnection: '0' })),
      /--max-requests-per-connection/,
    );
  });

  it('--crl wins; explicit --ca/--cert/--key without --crl means no CRL', () => {
    assert.deepEqual(serveOptions(flags({ crl: 'x.pem' })).crl, {
      kind: 'explicit',
      path: 'x.pem',
    });
    assert.deepEqual(serveOptions(flags({ pki: 'p' })).crl, { kind: 'pki', dir: 'p' });
    assert.deepEqual(serveOptions(flags({ ca: 'c', cert: 'k', key: 'y' })).crl, { kind: 'none' });
    usage(() => serveOptions(flags({ crl: '' })), /--crl is empty/);
  });

  it('--workers takes 1..64 or auto', () => {
    assert.equal(parseWorkers('2'), 2);
    assert.ok(parseWorkers('auto') >= 1);
    for (const bad of ['0', '65', 'two', '-1', '1.5'])
      usage(() => parseWorkers(bad), /invalid --workers/);
  });

  it('--access keeps the path; an empty one is a usage error', () => {
    assert.equal(serveOptions(flags({ access: 'rules.yaml' })).accessPath, 'rules.yaml');
    assert.throws(
      () => serveOptions(flags({ access: '' })),
      (e: unknown) => e instanceof UsageError,
    );
  });

  it('--proxy-protocol needs --trusted-proxy, and --trusted-proxy needs --proxy-protocol', () => {
    assert.deepEqual(serveOptions(flags()).preface, { proxyProtocol: false });
    usage(
      () => serveOptions(flags({ proxyProtocol: true })),
      /^--proxy-protocol needs --trusted-proxy$/,
    );
    usage(
      () => serveOptions(flags({ trustedProxy: ['127.0.0.1'] })),
      /^--trusted-proxy given without --proxy-protocol$/,
    );
    assert.deepEqual(
      serveOptions(flags({ proxyProtocol: true, trustedProxy: ['198.18.0.0/15,::1', 'fd00::/8'] }))
        .preface,
      {
        proxyProtocol: true,
        trustedProxies: [
          { address: '198.18.0.0', prefix: 15, family: 'ipv4' },
          { address: '::1', prefix: 128, family: 'ipv6' },
          { address: 'fd00::', prefix: 8, family: 'ipv6' },
        ],
      },
    );
  });

  const cidrs: [string, TrustedNetwork | RegExp][] = [
    ['127.0.0.1', { address: '127.0.0.1', prefix: 32, family: 'ipv4' }],
    ['0.0.0.0/0', { address: '0.0.0.0', prefix: 0, family: 'ipv4' }],
    ['::/0', { address: '::', prefix: 0, family: 'ipv6' }],
    ['198.18.0.0/33', /prefix must be 0 to 32/],
    ['fd00::/129', /prefix must be 0 to 128/],
    ['10.0.0.0/08', /prefix must be 0 to 32/],
    ['10.0.0.0/', /not an IP address/],
    ['haproxy.local', /not an IP address/],
    ['', /not an IP address/],
  ];
  for (const [text, want] of cidrs) {
    it(`--trusted-proxy "${text}"`, () => {
      if (want instanceof RegExp) usage(() => parseCidr(text), want);
      else assert.deepEqual(parseCidr(text), want);
    });
  }

  const statusListen: [string, { host: string; port: number } | undefined][] = [
    ['9100', { host: '127.0.0.1', port: 9100 }],
    ['0', { host: '127.0.0.1', port: 0 }],
    ['0.0.0.0:9100', { host: '0.0.0.0', port: 9100 }],
    ['[::1]:9100', { host: '::1', port: 9100 }],
    ['localhost:9100', { host: 'localhost', port: 9100 }],
    ['65536', undefined],
    [':9100', undefined],
    ['::1:9100', undefined],
    ['[127.0.0.1]:9100', undefined],
    ['host:', undefined],
    ['http://0.0.0.0:9100', undefined],
  ];
  for (const [text, want] of statusListen) {
    it(`--status-listen "${text}"`, () => {
      if (want) assert.deepEqual(parseStatusListen(text), want);
      else usage(() => parseStatusListen(text), /^invalid --status-listen/);
    });
  }
});
