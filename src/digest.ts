/**
 * The line `sha256sum` prints for a file: hex digest, two spaces, the path. As GNU coreutils
 * (8.x and later; 9 adds CR) writes a name that holds a backslash, LF or CR: the line starts
 * with a backslash and those characters are written `\\`, `\n`, `\r`, so that `sha256sum -c`
 * reads the name back exactly. Other characters are left as they are, as coreutils does.
 */
export function sha256sumLine(hex: string, path: string): string {
  if (!/[\\\n\r]/.test(path)) return `${hex}  ${path}`;
  const escaped = path.replace(/[\\\n\r]/g, (ch) =>
    ch === '\\' ? '\\\\' : ch === '\n' ? '\\n' : '\\r',
  );
  return `\\${hex}  ${escaped}`;
}
