/**
 * Hosts on one machine, for the tests, the image test and the cluster demo: network
 * namespaces on one Ethernet segment (a bridge in a namespace of its own stands for the
 * switch), addresses from 198.18.0.0/24 (RFC 2544 benchmarking space) and no route anywhere
 * else. Every name carries a tag (the PID by default), so runs side by side never collide.
 * Each veth end is created inside its namespace, so no interface of ours ever appears on this
 * host, and deleting the namespaces removes every interface with them.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface Host {
  name: string;
  /** The namespace (`ip netns exec NS …`); its file is /var/run/netns/NS. */
  ns: string;
  address: string;
}

/** The segment's prefix length: every host is on 198.18.0.0/24. */
export const PREFIX = 24;

function tool(cmd: 'ip' | 'tc', args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}${r.error?.message ?? ''}`);
  return r.stdout;
}

/**
 * Why namespaces cannot be made here, or undefined when they can; with `shaping`, also why
 * links cannot be rate-limited (`tc`, in iproute2 like `ip`).
 */
export function netnsUnsupported({ shaping = false } = {}): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces (CI is root)';
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (r.error) return `"ip netns" is not available: ${r.error.message}`;
  if (r.status !== 0) return `"ip netns list" failed: ${r.stderr.trim()}`;
  if (shaping && spawnSync('tc', ['-V']).error) return 'tc is not installed (iproute2 has it)';
  return undefined;
}

/** The namespace of host `name` in the segment tagged `tag`. */
const nsName = (name: string, tag: string): string => `ss-${name}-${tag}`;

const listed = (args: string[]): string[] =>
  spawnSync('ip', args, { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l !== '');

export class Segment {
  readonly hosts = new Map<string, Host>();
  /** Every namespace made, the switch first. */
  private readonly made: string[] = [];
  private readonly sw: string;

  /** `tag` goes into every name; two segments of one process need two tags. */
  constructor(private readonly tag = `${process.pid}`) {
    if (!/^[a-z0-9]{1,8}$/.test(tag)) throw new Error(`a segment's tag is 1-8 of a-z0-9: ${tag}`);
    this.sw = nsName('sw', tag);
  }

  /**
   * A host `name` at `address`/24, plugged into the switch. `downMbit` limits what the switch
   * sends it (its download rate, a token bucket), as a slower access link would.
   * `socketBuffer` caps the kernel's TCP send and receive buffers in the host (bytes, the
   * `tcp_wmem`/`tcp_rmem` maximum, which every namespace has of its own).
   */
  add(
    name: string,
    address: string,
    opts: { downMbit?: number; socketBuffer?: number } = {},
  ): Host {
    if (this.made.length === 0) {
      this.netns(this.sw);
      tool('ip', ['-n', this.sw, 'link', 'add', 'br0', 'type', 'bridge']);
      tool('ip', ['-n', this.sw, 'link', 'set', 'br0', 'up']);
    }
    const ns = nsName(name, this.tag);
    const port = `p${this.hosts.size}`; // the switch's end, named inside its namespace only
    // Interface names are at most 15 bytes; these exist only until renamed inside a namespace.
    const tmpA = `sa${this.tag}x${this.hosts.size}`;
    const tmpB = `sb${this.tag}x${this.hosts.size}`;
    this.netns(ns);
    const host = { name, ns, address };
    this.hosts.set(name, host);
    tool('ip', [
      'link',
      'add',
      tmpA,
      'netns',
      ns,
      'type',
      'veth',
      'peer',
      'name',
      tmpB,
      'netns',
      this.sw,
    ]);
    tool('ip', ['-n', ns, 'link', 'set', tmpA, 'name', 'eth0']);
    tool('ip', ['-n', this.sw, 'link', 'set', tmpB, 'name', port]);
    tool('ip', ['-n', this.sw, 'link', 'set', port, 'master', 'br0']);
    tool('ip', ['-n', this.sw, 'link', 'set', port, 'up']);
    tool('ip', ['-n', ns, 'addr', 'add', `${address}/${PREFIX}`, 'dev', 'eth0']);
    tool('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    tool('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    if (opts.downMbit !== undefined) {
      // tbf: rate, a bucket of 64 KiB, and packets dropped after 100 ms in the queue
      const shape = ['tbf', 'rate', `${opts.downMbit}mbit`, 'burst', '64kb', 'latency', '100ms'];
      tool('tc', ['-n', this.sw, 'qdisc', 'add', 'dev', port, 'root', ...shape]);
    }
    if (opts.socketBuffer !== undefined) {
      const max = opts.socketBuffer;
      if (!Number.isInteger(max) || max < 4096) throw new Error(`socket buffer of ${max} bytes`);
      const set = (key: string, v: string): string => `echo '${v}' > /proc/sys/net/ipv4/${key}`;
      const script = `${set('tcp_wmem', `4096 16384 ${max}`)} && ${set('tcp_rmem', `4096 ${Math.min(131072, max)} ${max}`)}`;
      tool('ip', ['netns', 'exec', ns, 'sh', '-c', script]);
    }
    return host;
  }

  /** `ip -n NS ARGS` for `host`, returning what it printed (routes, addresses). */
  ip(host: Host, ...args: string[]): string {
    return tool('ip', ['-n', host.ns, ...args]);
  }

  /** `ip netns exec NS CMD ARGS`: ip execs in place, so the child's PID is the command's. */
  spawn(host: Host, cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', host.ns, cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...opts,
    });
  }

  /** Kills what runs in this segment's namespaces and deletes them: see removeSegment. */
  remove(): { killed: string[]; left: string[] } {
    this.made.length = 0;
    this.hosts.clear();
    return removeSegment(this.tag);
  }

  private netns(ns: string): void {
    tool('ip', ['netns', 'add', ns]);
    this.made.push(ns);
  }
}

/**
 * Kills by PID whatever still runs in the namespaces of the segment tagged `tag` (the PID by
 * default), then deletes them, with every interface in them. Safe to call more than once and
 * from a test's after() hook, whatever state a run was left in. Returns the processes that
 * were still there (`ns:pid`) and whatever of the segment is left afterwards (a namespace, or
 * an interface on this host with its tag): both empty after a clean run.
 */
export function removeSegment(tag = `${process.pid}`): { killed: string[]; left: string[] } {
  const ours = (ns: string): boolean => ns.startsWith('ss-') && ns.endsWith(`-${tag}`);
  const namespaces = (): string[] =>
    listed(['netns', 'list'])
      .map((l) => l.split(' ')[0] ?? '')
      .filter(ours);
  const killed: string[] = [];
  for (const ns of namespaces()) {
    for (const pid of listed(['netns', 'pids', ns]).filter((p) => /^\d+$/.test(p))) {
      killed.push(`${ns}:${pid}`);
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone in between
      }
    }
    spawnSync('ip', ['netns', 'del', ns]);
  }
  const left = [
    ...namespaces(),
    ...listed(['-o', 'link', 'show'])
      .map((l) => l.split(':')[1]?.trim().split('@')[0] ?? '')
      .filter((dev) => dev.startsWith(`sa${tag}x`) || dev.startsWith(`sb${tag}x`)),
  ];
  return { killed, left };
}
