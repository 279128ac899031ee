import { describe, expect, it } from 'vitest';
import type { AllocationWhere } from '../../../src/filters/where.ts';
import { bexprString, combineFilters, MATCH_NOTHING, UnbalancedFilterError, whereToBexpr } from '../../../src/filters/where.ts';
import { FilterSyntaxError } from '../../../src/simulator/bexpr/errors.ts';
import { evaluateFilter } from '../../../src/simulator/bexpr/evaluate.ts';
import { parseFilter } from '../../../src/simulator/bexpr/parse.ts';
import { createRandom } from '../../../src/simulator/random.ts';
import type { Random } from '../../../src/simulator/random.ts';
import { nilKindAt } from '../../../src/simulator/views.ts';

/** Evaluates `expression` against `datum` the way the simulator's `/v1/allocations` does. */
function matches(expression: string, datum: unknown): boolean {
  return evaluateFilter(parseFilter(expression), datum, { nilKindAt });
}

/** A small full-Allocation-shaped datum, built like the simulator's filter datum (structs as objects, maps as Maps). */
function allocation(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ID: '5456bd7a-9fc0-c0dd-6131-cbee77f57577',
    Name: 'web.api[0]',
    Namespace: 'default',
    JobID: 'web',
    TaskGroup: 'api',
    ClientStatus: 'running',
    DesiredStatus: 'run',
    NodeID: '0b6b5a4c-2f1e-4c83-9d0b-6e1f0c4d2a11',
    NodeName: 'node-1',
    Job: { ID: 'web', Name: 'web', Type: 'service' },
    TaskStates: new Map([['api', { State: 'running', Failed: false }]]),
    ...overrides,
  };
}

const ADVERSARIAL: readonly string[] = [
  '',
  ' ',
  '" or "1" == "1',
  '" or JobID != "',
  '") or (JobID is not empty',
  '\\',
  '\\\\',
  '\\"',
  '"',
  '""',
  '`',
  '`" or "1" == "1`',
  '\\x22',
  '\\u0022',
  '\n',
  'line\nbreak',
  '\r\n',
  '\t',
  '\0',
  'nul\0byte',
  '\x01\x1f\x7f',
  '\x80\x9f\u00a0',
  '\u2028\u2029',
  'café',
  'Ωmega',
  '日本語',
  '\u{1F600}',
  'emoji \u{1F469}\u200D\u{1F4BB} zwj',
  '\u{10FFFF}',
  'a\uFEFF',
  '\uFFFD',
  '\u202Eevil',
  'a'.repeat(10_000),
  '"\\'.repeat(2_000),
  '/',
  '/Job/Type',
  '/a~1b~0c',
  '/web/api:1|x.y-z_',
  '//',
  'JobID',
  'and',
  ' or ',
  '(',
  ')',
  '{}',
  '~0~1',
];

const POOLS: readonly string[] = [
  'abcXYZ019 _-./:',
  '"\\`\'()[]{}',
  Array.from({ length: 32 }, (_unused, code) => String.fromCharCode(code)).join('') + '\x7f',
  '/~01aZ.:|-_',
  '\x80\u00ff\u0100\u07ff\u0800\u2028\uffff',
  '\u{1F600}\u{10000}\u{10FFFF}\u{1F469}\u200D',
];

/** A random well-formed string mixing quotes, backslashes, controls, BMP and astral characters. */
function randomString(random: Random): string {
  const length = random.int(24);
  let out = '';
  for (let i = 0; i < length; i++) out += random.pick(Array.from(random.pick(POOLS)));
  return out;
}

/** Checks that `value` survives a round trip through `bexprString`, go-bexpr's parser and evaluator. */
function expectExactLiteral(value: string): void {
  const expression = `JobID == ${bexprString(value)}`;
  expect(parseFilter(expression)).toEqual({
    kind: 'match',
    selector: { type: 'bexpr', path: ['JobID'] },
    operator: 'equal',
    value,
  });
  expect(matches(expression, { JobID: value })).toBe(true);
  expect(matches(expression, { JobID: `${value}x` })).toBe(false);
}

describe('bexprString', () => {
  it.each(ADVERSARIAL.map((value) => [JSON.stringify(value).slice(0, 40), value]))(
    'should produce a literal whose value is exactly %s',
    (_label, value) => {
      expectExactLiteral(value);
    },
  );

  it('should round-trip 2000 random strings from a seeded generator', () => {
    const random = createRandom(20240611);
    for (let i = 0; i < 2000; i++) expectExactLiteral(randomString(random));
  });

  it('should produce printable ASCII only, with no double quote inside the literal', () => {
    const random = createRandom(7);
    for (const value of [...ADVERSARIAL, ...Array.from({ length: 200 }, () => randomString(random))]) {
      const literal = bexprString(value);
      expect(literal).toMatch(/^"[\x20-\x7e]*"$/);
      expect(literal.slice(1, -1)).not.toContain('"');
    }
  });

  it('should never write \\" because go-bexpr rejects it', () => {
    expect(bexprString('"')).toBe('"\\x22"');
    expect(() => parseFilter('JobID == "\\""')).toThrow(FilterSyntaxError);
  });

  it('should use short escapes for backslash, newline, tab and carriage return', () => {
    expect(bexprString('a\\b\nc\td\re')).toBe('"a\\\\b\\nc\\td\\re"');
  });

  it('should escape astral characters as one \\U escape', () => {
    expect(bexprString('\u{1F600}')).toBe('"\\U0001f600"');
  });

  it('should not let a leading slash turn the literal into a JSON-pointer selector', () => {
    expect(bexprString('/a/b')).toBe('"\\x2fa/b"');
    expect(parseFilter('JobID == "/a/b~1c"')).toMatchObject({ value: 'a/b/c' });
    expectExactLiteral('/a/b~1c');
  });

  // The simulator's goUnquote decodes with a default TextDecoder, which drops a leading BOM; Go's
  // strconv.Unquote keeps it. So this case is checked on the literal text rather than round-tripped.
  it('should write a leading U+FEFF as a \\ufeff escape', () => {
    expect(bexprString('\uFEFFweb')).toBe('"\\ufeffweb"');
  });

  it('should replace lone surrogates with U+FFFD like a UTF-8 encoder does', () => {
    for (const value of ['\ud800', '\udfff', 'a\ud83dz', '\ude00\ud83d']) {
      const expected = Buffer.from(value, 'utf8').toString('utf8');
      const expression = `JobID == ${bexprString(value)}`;
      expect(matches(expression, { JobID: expected })).toBe(true);
      expect(matches(expression, { JobID: `${expected}x` })).toBe(false);
    }
  });

  it('should keep an injection attempt as a single match on the value', () => {
    const value = '" or "1" == "1';
    const expression = `JobID == ${bexprString(value)}`;
    expect(matches(expression, allocation())).toBe(false);
    expect(matches(expression, allocation({ JobID: value }))).toBe(true);
  });
});

describe('whereToBexpr', () => {
  it('should return undefined when no field is set', () => {
    expect(whereToBexpr({})).toBeUndefined();
  });

  it.each<[string, AllocationWhere, Record<string, unknown>, Record<string, unknown>]>([
    ['clientStatusIn', { clientStatusIn: ['running', 'failed'] }, { ClientStatus: 'failed' }, { ClientStatus: 'complete' }],
    ['desiredStatusIn', { desiredStatusIn: ['stop'] }, { DesiredStatus: 'stop' }, { DesiredStatus: 'run' }],
    ['jobId', { jobId: 'web' }, { JobID: 'web' }, { JobID: 'web2' }],
    ['jobIdIn', { jobIdIn: ['api', 'web'] }, { JobID: 'web' }, { JobID: 'db' }],
    ['taskGroup', { taskGroup: 'api' }, { TaskGroup: 'api' }, { TaskGroup: 'API' }],
    ['nodeId', { nodeId: 'n-1' }, { NodeID: 'n-1' }, { NodeID: 'n-2' }],
    ['nodeName', { nodeName: 'node-1' }, { NodeName: 'node-1' }, { NodeName: 'node-10' }],
    ['nameContains', { nameContains: '.api[' }, { Name: 'web.api[3]' }, { Name: 'web.apis[3]' }],
    ['jobType', { jobType: 'batch' }, { Job: { Type: 'batch' } }, { Job: { Type: 'service' } }],
  ])('should filter on %s', (_field, where, hit, miss) => {
    const expression = whereToBexpr(where) ?? '';
    expect(matches(expression, allocation(hit))).toBe(true);
    expect(matches(expression, allocation(miss))).toBe(false);
  });

  it('should write the documented clause shapes', () => {
    expect(whereToBexpr({ clientStatusIn: ['running', 'failed'] })).toBe('(ClientStatus == "running" or ClientStatus == "failed")');
    expect(whereToBexpr({ jobId: 'web' })).toBe('JobID == "web"');
    expect(whereToBexpr({ nameContains: 'api' })).toBe('Name contains "api"');
    expect(whereToBexpr({ jobType: 'system' })).toBe('Job.Type == "system"');
  });

  it('should join several fields with and', () => {
    const expression = whereToBexpr({ clientStatusIn: ['running', 'pending'], jobId: 'web', taskGroup: 'api', jobType: 'service' }) ?? '';
    expect(matches(expression, allocation())).toBe(true);
    expect(matches(expression, allocation({ ClientStatus: 'pending' }))).toBe(true);
    expect(matches(expression, allocation({ ClientStatus: 'lost' }))).toBe(false);
    expect(matches(expression, allocation({ TaskGroup: 'db' }))).toBe(false);
    expect(matches(expression, allocation({ Job: { Type: 'batch' } }))).toBe(false);
  });

  it('should keep an or inside a status list from escaping the other clauses', () => {
    const expression = whereToBexpr({ clientStatusIn: ['running', 'failed'], jobId: 'web' }) ?? '';
    expect(matches(expression, allocation({ ClientStatus: 'failed', JobID: 'other' }))).toBe(false);
  });

  it('should escape hostile values in every field', () => {
    const evil = '" or ID != "';
    const where: AllocationWhere = {
      clientStatusIn: [evil], desiredStatusIn: [evil], jobId: evil, jobIdIn: [evil], taskGroup: evil,
      nodeId: evil, nodeName: evil, nameContains: evil, jobType: evil,
    };
    const expression = whereToBexpr(where) ?? '';
    expect(matches(expression, allocation())).toBe(false);
    const hit = allocation({ ClientStatus: evil, DesiredStatus: evil, JobID: evil, TaskGroup: evil, NodeID: evil, NodeName: evil, Name: `x${evil}y`, Job: { Type: evil } });
    expect(matches(expression, hit)).toBe(true);
  });

  it.each<[string, AllocationWhere]>([
    ['clientStatusIn', { clientStatusIn: [] }],
    ['desiredStatusIn', { desiredStatusIn: [] }],
    ['jobIdIn', { jobIdIn: [] }],
  ])('should match nothing for an empty %s list', (_field, where) => {
    const expression = whereToBexpr(where) ?? '';
    expect(expression).toBe(MATCH_NOTHING);
    for (const datum of [allocation(), allocation({ ID: '' }), allocation({ ClientStatus: '', DesiredStatus: '', JobID: '' })]) {
      expect(matches(expression, datum)).toBe(false);
    }
  });

  it('should evaluate the always-false clause without touching pointers or map keys', () => {
    expect(matches(MATCH_NOTHING, allocation({ ID: '', Job: null, TaskStates: null }))).toBe(false);
    expect(matches(`not ${MATCH_NOTHING}`, allocation({ ID: '' }))).toBe(true);
  });

  it('should make the whole conjunction false when one list is empty', () => {
    const expression = whereToBexpr({ jobId: 'web', clientStatusIn: [] }) ?? '';
    expect(matches(expression, allocation())).toBe(false);
  });
});

describe('combineFilters', () => {
  it('should return undefined when both parts are absent or blank', () => {
    expect(combineFilters(undefined, undefined)).toBeUndefined();
    expect(combineFilters('', undefined)).toBeUndefined();
    expect(combineFilters('  ', '')).toBeUndefined();
  });

  it('should return a lone part unchanged', () => {
    expect(combineFilters('A or B', undefined)).toBe('A or B');
    expect(combineFilters(' ', 'JobID == "web"')).toBe('JobID == "web"');
  });

  it('should keep the where clause applied when the raw filter is an or', () => {
    const combined = combineFilters('ClientStatus == "running" or TaskGroup == "api"', whereToBexpr({ jobId: 'web' })) ?? '';
    expect(combined).toBe('(ClientStatus == "running" or TaskGroup == "api") and (JobID == "web")');
    expect(matches(combined, allocation())).toBe(true);
    expect(matches(combined, allocation({ JobID: 'other' }))).toBe(false);
    expect(matches(combined, allocation({ ClientStatus: 'failed', TaskGroup: 'db' }))).toBe(false);
  });

  it('should accept raw filters whose parentheses and quotes balance, including ones inside strings', () => {
    const raw = '(Name contains ")" or Name contains `(`) and "/Job/Type" == "service"';
    const combined = combineFilters(raw, whereToBexpr({ jobId: 'web' })) ?? '';
    expect(matches(combined, allocation({ Name: 'a)' }))).toBe(true);
    expect(matches(combined, allocation({ Name: 'a)', JobID: 'x' }))).toBe(false);
  });

  it.each(['JobID == "a") or (JobID != "a"', 'Name == "x', 'Name == `x', '(JobID == "a"', 'JobID == "a")'])(
    'should refuse to combine the unbalanced raw filter %s',
    (raw) => {
      expect(() => parseFilter(raw)).toThrow(FilterSyntaxError);
      expect(() => combineFilters(raw, 'JobID == "web"')).toThrow(UnbalancedFilterError);
    },
  );
});
