/**
 * go-memdb's UUID index rules for ids and prefixes: hyphens are dropped and the rest is
 * hex-decoded, so lookups ignore case and odd or non-hex input is an index error.
 */

function hexError(text: string): string | undefined {
  for (const char of text) {
    if (!/[0-9a-fA-F]/.test(char)) {
      const code = char.codePointAt(0) ?? 0;
      const hex = code.toString(16).toUpperCase().padStart(4, '0');
      return `Invalid UUID: encoding/hex: invalid byte: U+${hex} '${char}'`;
    }
  }
  return undefined;
}

/** Why memdb refuses `text` as an id (exact: 36 characters) or prefix; undefined when it accepts it. */
export function uuidIndexError(text: string, options: { exact: boolean }): string | undefined {
  const length = [...text].length;
  if (options.exact && length !== 36) return 'UUID must be 36 characters';
  if (length > 36) return `Invalid UUID length. UUID have 36 characters; got ${length}`;
  const hyphens = text.split('-').length - 1;
  if (hyphens > 4) return `UUID should have maximum of 4 "-"; got ${hyphens}`;
  const sanitized = text.replaceAll('-', '');
  if (Buffer.byteLength(sanitized) % 2 !== 0) return 'Input (without hyphens) must be even length';
  return hexError(sanitized);
}

/** The lowercase hex of an id or prefix without hyphens: what memdb compares. */
export function uuidKey(text: string): string {
  return text.replaceAll('-', '').toLowerCase();
}
