/**
 * Text that came from elsewhere (a server's `ERR` message, an HTTP reason phrase or body, a
 * listing's names and times, a client's request name in the server's log) shown to a person:
 * characters that a terminal would act on instead of showing are written as visible escapes,
 * so a hostile or broken peer cannot move the cursor, rewrite a line, set the window title,
 * or reorder what is read (issue 10). What goes to a pipe in a format that has its own rules
 * (JSON, `sha256sum` lines, `ls` names for `get --from -`) is exact instead; see the callers.
 */

/**
 * The characters escaped: C0 controls (U+0000–U+001F: ESC, CR, LF, BS, BEL…), DEL (U+007F),
 * C1 controls (U+0080–U+009F, e.g. U+009B, CSI), and the bidirectional formatting characters
 * (U+200E, U+200F, U+061C marks; U+202A–U+202E embeddings and overrides; U+2066–U+2069
 * isolates: Unicode UAX #9 §2, "Trojan Source", CVE-2021-42574). Line and paragraph
 * separators (U+2028, U+2029) end a line on some terminals and are escaped too.
 */
const ESCAPED =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Short forms of the usual C0 controls, as C and JSON write them. */
const NAMED: Readonly<Record<string, string>> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/**
 * `text` with every character a terminal would act on written as a visible escape: `\t`,
 * `\n`, `\r`, `\xHH` for the other C0 controls, DEL and the C1 controls, `\uHHHH` for the
 * bidirectional formatting characters and the line and paragraph separators (lower-case hex).
 * Everything else, backslashes included, is left as it is: this is for people, not a
 * reversible encoding.
 */
export function escapeControls(text: string): string {
  return text.replace(ESCAPED, (ch) => {
    const named = NAMED[ch];
    if (named !== undefined) return named;
    const cp = ch.charCodeAt(0);
    return cp <= 0xff
      ? `\\x${cp.toString(16).padStart(2, '0')}`
      : `\\u${cp.toString(16).padStart(4, '0')}`;
  });
}

/**
 * `JSON.stringify(value)` with every character {@link escapeControls} escapes written as a
 * JSON `\uHHHH` escape (JSON.stringify already escapes the C0 controls, not DEL, C1 or the
 * bidirectional ones): still valid JSON, and `JSON.parse` gives back exactly `value`.
 */
export function jsonForTerminal(value: unknown): string {
  return JSON.stringify(value).replace(
    ESCAPED,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
