/**
 * Build time (`npm run build:package`, run by prepare and npm pack): what the package ships
 * beside the code, made from the built CLI itself: the man page dist/man/securestream.1 and
 * the completion scripts in dist/completions/ (bash, zsh, fish).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isEntryPoint } from '../src/argv.js';
import { buildProgram } from '../src/program.js';
import { completionScript } from '../src/completion.js';
import { manPage } from './man.js';

const dist = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Where each shell looks for a completion file named after the command. */
export const COMPLETION_FILES = {
  bash: 'completions/securestream.bash',
  zsh: 'completions/_securestream',
  fish: 'completions/securestream.fish',
} as const;

/** SOURCE_DATE_EPOCH (reproducible builds) or now. */
function buildDate(): Date {
  const epoch = process.env['SOURCE_DATE_EPOCH'];
  return epoch ? new Date(Number(epoch) * 1000) : new Date();
}

async function put(relative: string, text: string): Promise<void> {
  const file = join(dist, relative);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, text);
}

if (isEntryPoint(import.meta)) {
  await put('man/securestream.1', manPage(buildProgram(), buildDate()));
  for (const [shell, file] of Object.entries(COMPLETION_FILES) as [
    keyof typeof COMPLETION_FILES,
    string,
  ][]) {
    await put(file, completionScript(shell, buildProgram()));
  }
}
