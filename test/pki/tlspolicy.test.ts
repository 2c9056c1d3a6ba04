/** The server's suites follow its key type and its certificate's keyUsage (transport/tls.ts). */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { resolveTlsPolicy } from '../../src/transport/tls.js';

const refused = (f: () => unknown, message: RegExp): void => {
  assert.throws(f, (e: Error & { code?: string }) => {
    assert.equal(e.code, 'no-usable-cipher', e.message);
    assert.match(e.message, message);
    return true;
  });
};

describe('suites by key', () => {
  const defaults: [string, string][] = [
    ['ec', 'ECDHE-ECDSA-AES128-GCM-SHA256'],
    ['ed25519', 'ECDHE-ECDSA-AES128-GCM-SHA256'],
    ['ed448', 'ECDHE-ECDSA-AES128-GCM-SHA256'],
    ['rsa', 'ECDHE-RSA-AES128-GCM-SHA256'],
    ['rsa-pss', 'ECDHE-RSA-AES128-GCM-SHA256'],
  ];
  for (const [keyKind, suite] of defaults) {
    test(`${keyKind}: ${suite} by default, no --ciphers needed`, () => {
      assert.deepEqual(resolveTlsPolicy({ keyKind }).ciphers, [suite]);
    });
  }

  test('RSA-PSS keys only sign: no RSA key transport', () => {
    refused(
      () => resolveTlsPolicy({ keyKind: 'rsa-pss', ciphers: ['AES128-GCM-SHA256'] }),
      /AES128-GCM-SHA256 \(needs an RSA key; RSA-PSS keys only sign\)/,
    );
    assert.deepEqual(
      resolveTlsPolicy({ keyKind: 'ed25519', ciphers: ['ECDHE-ECDSA-AES256-GCM-SHA384'] }).ciphers,
      ['ECDHE-ECDSA-AES256-GCM-SHA384'],
    );
  });
});

describe('suites by keyUsage', () => {
  test('keyEncipherment only: RSA key transport stays, ECDHE goes', () => {
    const keyUsage = ['keyEncipherment'] as const;
    refused(
      () => resolveTlsPolicy({ keyKind: 'rsa', keyUsage: [...keyUsage] }),
      /^the server certificate cannot be used for TLS: ECDHE-RSA-AES128-GCM-SHA256 \(needs keyUsage digitalSignature\); its keyUsage is keyEncipherment/,
    );
    assert.deepEqual(
      resolveTlsPolicy({
        keyKind: 'rsa',
        keyUsage: [...keyUsage],
        ciphers: ['ECDHE-RSA-AES128-GCM-SHA256', 'AES128-GCM-SHA256'],
      }).ciphers,
      ['AES128-GCM-SHA256'],
    );
  });

  test('digitalSignature only: key transport goes; TLS 1.3 needs digitalSignature too', () => {
    assert.deepEqual(
      resolveTlsPolicy({
        keyKind: 'rsa',
        keyUsage: ['digitalSignature'],
        ciphers: ['AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384'],
      }).ciphers,
      ['ECDHE-RSA-AES256-GCM-SHA384'],
    );
    refused(
      () =>
        resolveTlsPolicy({
          keyKind: 'ec',
          keyUsage: ['keyAgreement'],
          tlsMax: '1.3',
          ciphers: ['TLS_AES_128_GCM_SHA256'],
        }),
      /TLS_AES_128_GCM_SHA256 \(needs keyUsage digitalSignature\)/,
    );
  });
});
