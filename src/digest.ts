/** The line `sha256sum` prints for a file: hex digest, two spaces, the path. */
export function sha256sumLine(hex: string, path: string): string {
  return `${hex}  ${path}`;
}
