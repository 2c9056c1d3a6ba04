/**
 * The arguments the user typed, from process.argv. In a single executable application
 * (`npm run dist`) a cluster worker gets the executable's path once more before them: the
 * primary forks `execPath [argv[1], ...args]` and the executable puts its own path in argv[1]
 * again (nodejs/node#62776). That extra word is dropped here, so `serve --workers N` works
 * the same from the executable as from node.
 */
import cluster from 'node:cluster';
import { realpathSync } from 'node:fs';
import { isSea } from 'node:sea';
import { fileURLToPath } from 'node:url';

export function userArguments(
  argv: readonly string[] = process.argv,
  where: { sea: boolean; worker: boolean } = { sea: isSea(), worker: cluster.isWorker },
): string[] {
  const args = argv.slice(2);
  if (where.sea && where.worker && args[0] === argv[0]) args.shift();
  return args;
}

/**
 * Whether the module of `meta` is the one node was started with. import.meta.main where the
 * runtime has it (24.2, 22.18); older 22.x compare the real path of argv[1] instead.
 */
export function isEntryPoint(
  meta: ImportMeta,
  argv1: string | undefined = process.argv[1],
): boolean {
  if (isSea()) return true; // the bundle is the executable's only script
  const main = (meta as { main?: boolean }).main;
  if (typeof main === 'boolean') return main;
  try {
    return argv1 !== undefined && realpathSync(argv1) === fileURLToPath(meta.url);
  } catch {
    return false;
  }
}
