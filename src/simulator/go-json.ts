/**
 * Decoding request bodies with the error texts Go's `encoding/json` gives, since Nomad passes
 * them through to clients.
 */

export type JsonFieldType = 'string' | 'bool';

function goTypeName(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  if (typeof value === 'boolean') return 'bool';
  return typeof value;
}

function syntaxMessage(text: string, error: SyntaxError): string {
  const position = /position (\d+)/.exec(error.message);
  if (/end of (JSON|data)/i.test(error.message) || position === null) {
    const trimmed = text.trim();
    const first = trimmed[0];
    if (first !== undefined && !/[{["\-0-9tfn]/.test(first)) return `invalid character '${first}' looking for beginning of value`;
    return 'unexpected EOF';
  }
  const char = text[Number(position[1])] ?? '';
  return `invalid character '${char}' looking for beginning of value`;
}

/**
 * Parses a JSON object body and checks the types of the fields Nomad's struct declares;
 * unknown keys are ignored as Go does. Returns the object, or a Go-style error text.
 */
export function decodeGoStruct(
  text: string,
  structName: string,
  fields: Record<string, JsonFieldType>,
): { value: Record<string, unknown> } | { error: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { error: error instanceof SyntaxError ? syntaxMessage(text, error) : String(error) };
  }
  if (parsed === null) return { value: {} };
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { error: `json: cannot unmarshal ${goTypeName(parsed)} into Go value of type ${structName}` };
  }
  const value = parsed as Record<string, unknown>;
  for (const [name, type] of Object.entries(fields)) {
    const field = value[name];
    if (field === undefined || field === null) continue;
    const ok = type === 'string' ? typeof field === 'string' : typeof field === 'boolean';
    if (!ok) {
      return { error: `json: cannot unmarshal ${goTypeName(field)} into Go struct field ${structName}.${name} of type ${type}` };
    }
  }
  return { value };
}
