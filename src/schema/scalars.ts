import { Kind, type ValueNode } from 'graphql';
import { builder } from './builder.ts';
import { ErrorCode, gatewayError } from '../error-codes.ts';
import { formatGoDuration } from './time.ts';

const UINT64_MAX = 18446744073709551615n;

function toUint64(value: unknown): bigint {
  const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof text !== 'string' || !/^\d+$/.test(text) || BigInt(text) > UINT64_MAX) {
    throw gatewayError(ErrorCode.BAD_USER_INPUT, 'Uint64 takes a non-negative integer below 2^64, as a string of digits');
  }
  return BigInt(text);
}

builder.scalarType('Uint64', {
  description:
    'An unsigned 64-bit integer, such as a Nomad raft index. Sent as a string of decimal digits, since GraphQL Int stops at 2^31 and JSON numbers lose precision above 2^53; accepted as such a string (or a small Int literal).',
  // The encoding Protocol Buffers' JSON mapping gives uint64: a decimal string.
  specifiedByURL: 'https://protobuf.dev/programming-guides/json/',
  serialize: (value) => value.toString(),
  parseValue: toUint64,
  parseLiteral: (node: ValueNode) => {
    if (node.kind === Kind.STRING || node.kind === Kind.INT) return toUint64(node.value);
    throw gatewayError(ErrorCode.BAD_USER_INPUT, 'Uint64 takes a string of digits');
  },
});

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

function toDateTime(value: unknown): string {
  if (typeof value !== 'string' || !RFC3339.test(value)) {
    throw gatewayError(ErrorCode.BAD_USER_INPUT, 'DateTime takes an RFC 3339 string such as 2026-01-02T15:04:05.123456789Z');
  }
  return value;
}

builder.scalarType('DateTime', {
  specifiedByURL: 'https://www.rfc-editor.org/rfc/rfc3339',
  description:
    'An instant as an RFC 3339 string, with Nomad\'s nanosecond precision kept (e.g. 2021-11-04T09:14:12.04996Z). Go\'s zero time is never sent: such fields are null.',
  serialize: (value) => value,
  parseValue: toDateTime,
  parseLiteral: (node: ValueNode) => toDateTime(node.kind === Kind.STRING ? node.value : undefined),
});

builder.scalarType('Duration', {
  description: 'A length of time in Go\'s notation, as Nomad users write it: `30s`, `1m30s`, `250ms`, `1h0m0s`. Output only.',
  // Go's time.Duration.String defines the notation (the largest unit is the hour; fractions only on the last unit).
  specifiedByURL: 'https://pkg.go.dev/time#Duration.String',
  serialize: (value) => formatGoDuration(value),
  parseValue: () => {
    throw gatewayError(ErrorCode.BAD_USER_INPUT, 'Duration is output only');
  },
});

function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonSafe(v)]));
  }
  return value;
}

builder.scalarType('JSON', {
  specifiedByURL: 'https://www.rfc-editor.org/rfc/rfc8259',
  description: 'Any JSON value, for Nomad\'s free-form fields (driver config, task handles). Integers beyond 2^53 are strings.',
  serialize: jsonSafe,
  parseValue: (value) => value,
});
