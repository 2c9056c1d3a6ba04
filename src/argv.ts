/**
 * The arguments the user typed, from process.argv. In a single executable application
 * (`npm run dist`) a cluster worker gets the executable's path once more before them: the
 * primary forks `execPath [argv[1], ...args]` and the executable puts its own path in argv[1]
 * again (nodejs/node#62776). That extra word is dropped here, so `serve --workers N` works
 * the same from the executable as from node.
 */
import cluster from 'node:cluster';
import { isSea } from 'node:sea';

export function userArguments(
  argv: readonly string[] = process.argv,
  where: { sea: boolean; worker: boolean } = { sea: isSea(), worker: cluster.isWorker },
): string[] {
  const args = argv.slice(2);
  if (where.sea && where.worker && args[0] === argv[0]) args.shift();
  return args;
}
