/**
 * What an access-rule glob says about a folder, for listings: whether it can match some name
 * below the folder (an allow rule that may grant something there makes the folder visible) and
 * whether it matches every name below it (a deny rule that hides the folder). Globs are matched
 * segment by segment with picomatch, so `*` never crosses a `/` and dotfile rules stay as in
 * the access rules; a glob whose braces or brackets span a `/` is judged by its static base.
 */
import picomatch from 'picomatch';

export interface FolderMatcher {
  /** Some name `folder/…` below the folder (at any depth) matches the glob. */
  reachesUnder(folder: readonly string[]): boolean;
  /** Every name below the folder matches the glob (it ends in `/**` after a matching prefix). */
  coversAllUnder(folder: readonly string[]): boolean;
}

type Segment = { globstar: true } | { globstar: false; match: (s: string) => boolean };

/**
 * Compiles `glob` with the access rules' picomatch options; `dot` as in the rule (allow lists
 * skip dotfiles, deny lists cover them).
 */
export function folderMatcher(glob: string, dot: boolean): FolderMatcher {
  const parts = splitSegments(glob);
  if (!parts) return fromStaticBase(glob);
  const opts = { dot, nonegate: true, noextglob: true, windows: false };
  const segs: Segment[] = parts.map((p) =>
    p === '**' ? { globstar: true } : { globstar: false, match: picomatch(p, opts) },
  );
  // A globstar does not step into a dot segment unless the rule covers dotfiles.
  const passable = (s: string): boolean => dot || !s.startsWith('.');
  return {
    reachesUnder(folder) {
      const seen = new Set<number>();
      const rec = (i: number, j: number): boolean => {
        const key = i * (folder.length + 1) + j;
        if (seen.has(key)) return false;
        seen.add(key);
        if (j === folder.length) return i < segs.length;
        const seg = segs[i];
        const name = folder[j] as string;
        if (!seg) return false;
        if (seg.globstar) return rec(i + 1, j) || (passable(name) && rec(i, j + 1));
        return seg.match(name) && rec(i + 1, j + 1);
      };
      return rec(0, 0);
    },
    coversAllUnder(folder) {
      const last = segs[segs.length - 1];
      if (!last?.globstar || !dot) return false;
      const prefix = segs.slice(0, -1);
      const seen = new Set<number>();
      // The prefix must match the folder's first k segments exactly, for some k.
      const rec = (i: number, j: number): boolean => {
        const key = i * (folder.length + 1) + j;
        if (seen.has(key)) return false;
        seen.add(key);
        if (i === prefix.length) return true;
        const seg = prefix[i];
        if (!seg) return false;
        if (seg.globstar) return rec(i + 1, j) || (j < folder.length && rec(i, j + 1));
        return j < folder.length && seg.match(folder[j] as string) && rec(i + 1, j + 1);
      };
      return rec(0, 0);
    },
  };
}

/** Splits at `/` outside braces and brackets; undefined when a group spans a `/`. */
function splitSegments(glob: string): string[] | undefined {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '\\') {
      cur += c + (glob[i + 1] ?? '');
      i++;
      continue;
    }
    if (c === '{' || c === '[') depth++;
    else if ((c === '}' || c === ']') && depth > 0) depth--;
    if (c === '/') {
      if (depth > 0) return undefined;
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** The cautious judgement for globs that cannot be cut into segments. */
function fromStaticBase(glob: string): FolderMatcher {
  const base = picomatch.scan(glob).base;
  const baseSegs = base === '' ? [] : base.split('/');
  return {
    reachesUnder(folder) {
      const n = Math.min(baseSegs.length, folder.length);
      for (let i = 0; i < n; i++) if (baseSegs[i] !== folder[i]) return false;
      return true;
    },
    coversAllUnder: () => false,
  };
}
