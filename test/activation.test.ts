/** systemd's LISTEN_FDS/LISTEN_PID (sd_listen_fds(3)) and the argv of single-executable workers. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { activationFd } from '../src/activation.js';
import { userArguments } from '../src/argv.js';

describe('activationFd', () => {
  const table: [string, Record<string, string>, number | undefined][] = [
    ['no variables', {}, undefined],
    ['one socket for this process', { LISTEN_FDS: '1', LISTEN_PID: '42' }, 3],
    ['meant for another process', { LISTEN_FDS: '1', LISTEN_PID: '43' }, undefined],
    ['LISTEN_PID missing', { LISTEN_FDS: '1' }, undefined],
    ['zero sockets', { LISTEN_FDS: '0', LISTEN_PID: '42' }, undefined],
    ['a malformed LISTEN_PID', { LISTEN_FDS: '1', LISTEN_PID: '42x' }, undefined],
  ];
  for (const [what, env, fd] of table) {
    it(what, () => {
      assert.equal(activationFd(env, [42]), fd);
    });
  }
  it('more than one socket, or a LISTEN_FDS that is not a number: usage errors', () => {
    assert.throws(() => activationFd({ LISTEN_FDS: '2', LISTEN_PID: '42' }, [42]), {
      code: 'usage',
      message: /systemd passed 2 sockets/,
    });
    assert.throws(() => activationFd({ LISTEN_FDS: 'x', LISTEN_PID: '42' }, [42]), {
      code: 'usage',
    });
  });
});

describe('userArguments', () => {
  const exe = '/usr/local/bin/securestream';
  const table: [string, string[], { sea: boolean; worker: boolean }, string[]][] = [
    [
      'node cli.js ARGS',
      ['/usr/bin/node', '/x/cli.js', 'get', 'f'],
      { sea: false, worker: false },
      ['get', 'f'],
    ],
    ['executable ARGS', [exe, exe, 'serve'], { sea: true, worker: false }, ['serve']],
    [
      'executable, cluster worker: the repeated path goes',
      [exe, exe, exe, 'serve', '--workers', '2'],
      { sea: true, worker: true },
      ['serve', '--workers', '2'],
    ],
    [
      'node, cluster worker: nothing dropped',
      ['/usr/bin/node', '/x/cli.js', 'serve'],
      { sea: false, worker: true },
      ['serve'],
    ],
  ];
  for (const [what, argv, where, want] of table) {
    it(what, () => {
      assert.deepEqual(userArguments(argv, where), want);
    });
  }
});
