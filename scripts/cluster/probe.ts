/**
 * Run inside the balancer's namespace by the cluster run: every PROBE_MS, asks each server's
 * status endpoint for /healthz and /metrics and prints one JSON line per server and look,
 * `{"t":1764424569153,"server":"s1","health":200,"sent":12345}`: `t` is when the answer came
 * (ms since the epoch, the same clock as the run's), `health` the status of /healthz (0 when
 * nothing answered), `sent` securestream_sent_bytes_total (bytes handed to client sockets,
 * transfers in flight included). Arguments: `NAME=http://ADDR:PORT`. Stops when its standard
 * input closes.
 */
const PROBE_MS = 100;

const servers = process.argv.slice(2).map((a) => {
  const [name, url] = a.split('=');
  return { name: name ?? '?', url: url ?? '' };
});

async function look(s: { name: string; url: string }): Promise<void> {
  let health = 0;
  let sent: number | undefined;
  let t = Date.now();
  try {
    health = (await fetch(`${s.url}/healthz`, { signal: AbortSignal.timeout(1000) })).status;
    t = Date.now();
    const metrics = await fetch(`${s.url}/metrics`, { signal: AbortSignal.timeout(1000) });
    const m = /^securestream_sent_bytes_total (\d+)/m.exec(await metrics.text());
    if (m?.[1]) sent = Number(m[1]);
  } catch {
    // down, or going down
    if (health === 0) t = Date.now();
  }
  process.stdout.write(`${JSON.stringify({ t, server: s.name, health, sent })}\n`);
}

const timer = setInterval(() => {
  for (const s of servers) void look(s);
}, PROBE_MS);
process.stdin.resume();
process.stdin.on('end', () => {
  clearInterval(timer);
});
