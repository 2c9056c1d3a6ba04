import { UsageError } from './errors.js';

const UNITS: Record<string, number> = {
  '': 1,
  B: 1,
  K: 1000,
  KB: 1000,
  KIB: 1024,
  M: 1000 ** 2,
  MB: 1000 ** 2,
  MIB: 1024 ** 2,
  G: 1000 ** 3,
  GB: 1000 ** 3,
  GIB: 1024 ** 3,
  T: 1000 ** 4,
  TB: 1000 ** 4,
  TIB: 1024 ** 4,
};

/** Parses `1000`, `64KiB`, `64MiB`, `1GiB`, `1.5GB` into a byte count (a safe integer). */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m?.[2]?.toUpperCase() ?? '';
  const mult = UNITS[unit];
  if (!m?.[1] || mult === undefined) {
    throw new UsageError(
      `invalid size "${text}"`,
      'use a byte count or a unit: 1000, 64KiB, 64MiB, 1GiB',
    );
  }
  const n = Number(m[1]) * mult;
  if (!Number.isSafeInteger(n))
    throw new UsageError(`invalid size "${text}": not a whole number of bytes in range`);
  return n;
}
