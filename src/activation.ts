/**
 * systemd socket activation (sd_listen_fds(3)): systemd opens the listening socket and starts
 * `serve` with it as file descriptor 3, saying so in LISTEN_FDS (how many, from fd 3 on) and
 * LISTEN_PID (for which process). The server then listens on that socket instead of binding
 * --host and --port itself. Reads nothing but the values passed in.
 */
import { UsageError } from './errors.js';

/** The first passed descriptor (sd-daemon.h SD_LISTEN_FDS_START). */
export const LISTEN_FDS_START = 3;

/**
 * The listening socket systemd passed to this process, or undefined when there is none.
 * `pids`: the processes the variables may be meant for: this one, and for a cluster worker
 * also its primary, which systemd started (a worker's listen on the descriptor is carried out
 * by the primary). Throws UsageError (code usage) for malformed values or more than one socket.
 */
export function activationFd(
  env: Record<string, string | undefined>,
  pids: readonly number[],
): number | undefined {
  const fds = env['LISTEN_FDS'];
  const pid = env['LISTEN_PID'];
  if (fds === undefined || pid === undefined) return undefined;
  if (!/^[1-9][0-9]*$/.test(pid) || !pids.includes(Number(pid))) return undefined;
  if (!/^[0-9]+$/.test(fds)) {
    throw new UsageError(`LISTEN_FDS "${fds}" is not a number of file descriptors`);
  }
  const count = Number(fds);
  if (count === 0) return undefined;
  if (count > 1) {
    throw new UsageError(
      `systemd passed ${count} sockets (LISTEN_FDS); serve listens on exactly one`,
      'give the .socket unit a single ListenStream= line',
    );
  }
  return LISTEN_FDS_START;
}
