import { describe, expect, it } from 'vitest';
import type { FilterAst } from '../../../src/simulator/bexpr/ast.ts';
import { FilterEvaluationError, FilterSyntaxError } from '../../../src/simulator/bexpr/errors.ts';
import type { EvaluateOptions } from '../../../src/simulator/bexpr/evaluate.ts';
import { evaluateFilter } from '../../../src/simulator/bexpr/evaluate.ts';
import { parseFilter } from '../../../src/simulator/bexpr/parse.ts';

/** A full-Allocation-shaped datum: structs as objects, Go maps as Maps, uint64/int64 as bigint. */
function allocation(): Record<string, unknown> {
  return {
    ID: '5456bd7a-9fc0-c0dd-6131-cbee77f57577',
    Name: 'web.web[0]',
    Namespace: 'default',
    TaskGroup: 'web',
    ClientStatus: 'running',
    DesiredStatus: 'run',
    NodeName: 'node-1',
    DeploymentID: '',
    CreateIndex: 42n,
    CreateTime: 1_700_000_000_000_000_000n,
    Job: {
      Name: 'web',
      Type: 'service',
      Version: 3n,
      Priority: 50,
      Stop: false,
      Datacenters: ['dc1', 'dc2'],
      Meta: new Map([['owner', 'team-a']]),
    },
    TaskStates: new Map<string, unknown>([
      ['web', { State: 'running', Failed: false, Restarts: 2n }],
      ['sidecar', { State: 'pending', Failed: true, Restarts: 0n }],
    ]),
    DesiredTransition: { Migrate: null, Reschedule: true },
    DeploymentStatus: null,
    PreemptedAllocations: null,
    Ports: [8080, 9090],
    Empty: [],
    EmptyMap: new Map(),
    Mixed: ['foobar', 1, true],
    Weight: 0.25,
  };
}

function evaluate(expression: string, datum: unknown = allocation(), options?: EvaluateOptions): boolean {
  return evaluateFilter(parseFilter(expression), datum, options);
}

function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error, got none');
}

function syntaxError(expression: string): string {
  const error = thrown(() => parseFilter(expression));
  expect(error).toBeInstanceOf(FilterSyntaxError);
  return error instanceof Error ? error.message : '';
}

function evaluationError(expression: string, datum: unknown = allocation(), options?: EvaluateOptions): string {
  const ast = parseFilter(expression);
  const error = thrown(() => evaluateFilter(ast, datum, options));
  expect(error).toBeInstanceOf(FilterEvaluationError);
  return error instanceof Error ? error.message : '';
}

function sel(...path: string[]): { type: 'bexpr'; path: string[] } {
  return { type: 'bexpr', path };
}

describe('parseFilter', () => {
  it.each([
    ['a == 1', 'equal', sel('a'), '1'],
    ['a != 1', 'notEqual', sel('a'), '1'],
    ['a contains x', 'in', sel('a'), 'x'],
    ['a not contains x', 'notIn', sel('a'), 'x'],
    ['x in a', 'in', sel('a'), 'x'],
    ['x not in a', 'notIn', sel('a'), 'x'],
    ['a matches "^x"', 'matches', sel('a'), '^x'],
    ['a not matches "^x"', 'notMatches', sel('a'), '^x'],
    ['a is empty', 'isEmpty', sel('a'), null],
    ['a is not empty', 'isNotEmpty', sel('a'), null],
    ['a is nil', 'isNil', sel('a'), null],
    ['a is not nil', 'isNotNil', sel('a'), null],
  ])('should parse %j into a match expression', (expression, operator, selector, value) => {
    expect(parseFilter(expression)).toEqual({ kind: 'match', selector, operator, value });
  });

  it('should bind not tighter than and, and and tighter than or', () => {
    const m = (name: string): FilterAst => ({ kind: 'match', selector: sel(name), operator: 'equal', value: '1' });
    expect(parseFilter('not a == 1 and b == 1 or c == 1')).toEqual({
      kind: 'binary',
      operator: 'or',
      left: { kind: 'binary', operator: 'and', left: { kind: 'not', operand: m('a') }, right: m('b') },
      right: m('c'),
    });
  });

  it('should let parentheses override precedence', () => {
    const ast = parseFilter('a == 1 and (b == 1 or c == 1)');
    expect(ast).toMatchObject({ kind: 'binary', operator: 'and', right: { kind: 'binary', operator: 'or' } });
  });

  it('should collapse a double not like go-bexpr does', () => {
    expect(parseFilter('not not a == 1')).toEqual({ kind: 'match', selector: sel('a'), operator: 'equal', value: '1' });
  });

  it('should accept whitespace of every kind around tokens', () => {
    expect(parseFilter('\t\r\n  foo \t\r\n == \t\r\n x \t\r\n')).toEqual({
      kind: 'match', selector: sel('foo'), operator: 'equal', value: 'x',
    });
  });

  it('should keep bare identifiers, dotted paths and true/false as raw text values', () => {
    expect(parseFilter('TaskGroup == web')).toMatchObject({ value: 'web' });
    expect(parseFilter('Stop == true')).toMatchObject({ value: 'true' });
    expect(parseFilter('a == b.c["d e"]')).toMatchObject({ value: 'b.c.d e' });
  });

  it('should keep numbers as their literal text', () => {
    expect(parseFilter('a == -3')).toMatchObject({ value: '-3' });
    expect(parseFilter('a == 1.5')).toMatchObject({ value: '1.5' });
    expect(parseFilter('a == 0')).toMatchObject({ value: '0' });
  });

  it('should keep backslashes in raw strings and drop carriage returns', () => {
    expect(parseFilter('a == `C:\\dir\\n`')).toMatchObject({ value: 'C:\\dir\\n' });
    expect(parseFilter('a == `x\r\ny`')).toMatchObject({ value: 'x\ny' });
  });

  it('should decode Go escape sequences in double-quoted strings', () => {
    expect(parseFilter('a == "tab\\there\\n\\\\"')).toMatchObject({ value: 'tab\there\n\\' });
    expect(parseFilter('a == "\\u00e9\\U0001F600\\x41\\101"')).toMatchObject({ value: 'é😀AA' });
    expect(parseFilter('a == "\\xc3\\xa9"')).toMatchObject({ value: 'é' });
  });

  it('should reject invalid escapes as go-bexpr does, at the opening quote', () => {
    expect(syntaxError('a == "\\q"')).toBe('1:6 (5): rule "string": invalid syntax');
    expect(syntaxError('a == "\\ud800"')).toBe('1:6 (5): rule "string": invalid syntax');
  });

  it('should not support an escaped double quote, so a quote-injection attempt is a syntax error', () => {
    expect(syntaxError('ClientStatus == "\\" or \\"1\\" == \\"1"')).toBe('1:17 (16): rule "string": invalid syntax');
  });

  it('should parse a quoted JSON pointer selector and unescape ~1 and ~0', () => {
    expect(parseFilter('"/Job/Name" == web')).toMatchObject({ selector: { type: 'jsonPointer', path: ['Job', 'Name'] } });
    expect(parseFilter('"/a~1b/c~0d" == x')).toMatchObject({ selector: { type: 'jsonPointer', path: ['a/b', 'c~d'] } });
    expect(parseFilter('x in "/hy-phen/pi|pe/co:lon"')).toMatchObject({ selector: { path: ['hy-phen', 'pi|pe', 'co:lon'] } });
  });

  it('should read a quoted value that looks like a JSON pointer as its path without the leading slash', () => {
    expect(parseFilter('Path == "/usr/bin"')).toMatchObject({ value: 'usr/bin' });
  });

  it('should parse index expressions and numeric segments into path parts', () => {
    expect(parseFilter('a.b["c d"][`e`].f == 1')).toMatchObject({ selector: sel('a', 'b', 'c d', 'e', 'f') });
    expect(parseFilter('a.0.b == 1')).toMatchObject({ selector: sel('a', '0', 'b') });
    expect(parseFilter('foo/bar == 1')).toMatchObject({ selector: sel('foo/bar') });
  });

  it('should parse every collection binding form', () => {
    const binding = (expression: string): unknown => parseFilter(expression);
    expect(binding('any a as k, v { k == v }')).toMatchObject({
      kind: 'collection', op: 'any', selector: sel('a'), binding: { mode: 'indexAndValue', index: 'k', value: 'v' },
    });
    expect(binding('all a as k, _ { k == x }')).toMatchObject({ op: 'all', binding: { mode: 'index', index: 'k' } });
    expect(binding('all a as _, v { v == x }')).toMatchObject({ binding: { mode: 'value', value: 'v' } });
    expect(binding('all a as t { t == x }')).toMatchObject({ binding: { mode: 'default', default: 't' } });
  });

  it('should report the exact go-bexpr text for a bare selector', () => {
    expect(syntaxError('NotValid')).toBe(
      '1:9 (8): no match found, expected: "!=", ".", "==", "[", [ \\t\\r\\n] or [a-zA-Z0-9_/]',
    );
  });

  it('should report an unterminated string at the end of the input, like go-bexpr and Nomad', () => {
    expect(syntaxError('TaskGroup == "web')).toBe('1:18 (17): rule "string": Unterminated string literal');
    expect(syntaxError('foo == `12x')).toBe('1:12 (11): rule "string": Unterminated string literal');
  });

  it.each([
    ['foo == 3x', '1:9 (8): rule "number": Invalid number literal'],
    ['foo[3] == abc', '1:5 (4): rule "index": Invalid index'],
    ['x in foo["abc"', '1:15 (14): rule "index": Unclosed index expression'],
    ['x in 32', '1:6 (5): rule "match": Invalid selector'],
    ['32 == 32', '1:4 (3): no match found, expected: "in", "not" or [ \\t\\r\\n]'],
    ['x in foo abc', '1:10 (9): no match found, expected: "and", "or", [ \\t\\r\\n] or EOF'],
    ['(foo == 4', '1:10 (9): rule "grouping": Unmatched parentheses'],
    ['x in foo or ', '1:13 (12): no match found, expected: "(", "-", "0", "\\"", "`", "all", "any", "not", [ \\t\\r\\n], [1-9] or [a-zA-Z]'],
    ['all as t { t.name == "hello" }', '1:8 (7): no match found, expected: "as" or [ \\t\\r\\n]'],
  ])('should reproduce go-bexpr\'s error for %j', (expression, message) => {
    expect(syntaxError(expression)).toBe(message);
  });

  it.each(['', '   ', 'a ==', 'a < 3', 'a >= 3', '(a == 1', 'a == 1)', '((a == 1)', 'a == 1 and', 'a == = 1'])(
    'should throw a positioned FilterSyntaxError for %j',
    (expression) => {
      expect(syntaxError(expression)).toMatch(/^\d+:\d+ \(\d+\): /);
    },
  );

  it('should name the empty input\'s expected tokens', () => {
    expect(syntaxError('')).toBe(
      '1:1 (0): no match found, expected: "(", "-", "0", "\\"", "`", "all", "any", "not", [ \\t\\r\\n], [1-9] or [a-zA-Z]',
    );
  });

  it('should count lines, rune columns and byte offsets the way pigeon does', () => {
    expect(syntaxError('a == 1\nand b ==')).toBe(
      '2:9 (15): no match found, expected: "-", "0", "\\"", "`", [ \\t\\r\\n], [1-9] or [a-zA-Z]',
    );
    expect(syntaxError('Name == "é" junk')).toBe('1:13 (13): no match found, expected: "and", "or", [ \\t\\r\\n] or EOF');
  });

  it('should run out of go-bexpr\'s 2,000,000-expression parse budget at the same point', () => {
    expect(() => parseFilter('((((((a == 1))))))')).not.toThrow();
    expect(syntaxError('(((((((a == 1)))))))')).toBe('1:13 (12): rule IntegerOrFloat: max number of expressions parsed');
  });

  it('should join several recorded errors with newlines, like pigeon', () => {
    expect(syntaxError('(((((a == 1')).toBe(
      '1:12 (11): rule "grouping": Unmatched parentheses\n1:6 (5): rule OrExpression: max number of expressions parsed',
    );
  });
});

describe('evaluateFilter', () => {
  it('should compare strings case-sensitively with == and !=', () => {
    expect(evaluate('ClientStatus == "running"')).toBe(true);
    expect(evaluate('ClientStatus == "Running"')).toBe(false);
    expect(evaluate('ClientStatus != "running"')).toBe(false);
    expect(evaluate('ClientStatus != pending')).toBe(true);
  });

  it('should compare against bare identifiers and raw strings as plain text', () => {
    expect(evaluate('TaskGroup == web')).toBe(true);
    expect(evaluate('Name == `web.web[0]`')).toBe(true);
    expect(evaluate('Name == "web.web\\u005b0]"')).toBe(true);
  });

  it('should treat a quote-injection attempt inside a raw string as a plain string', () => {
    expect(evaluate('ClientStatus == `" or "1" == "1`')).toBe(false);
    expect(evaluate('ClientStatus != `" or "1" == "1`')).toBe(true);
  });

  it('should test substrings with in, not in, contains and not contains on strings', () => {
    expect(evaluate('"unn" in ClientStatus')).toBe(true);
    expect(evaluate('"xyz" not in ClientStatus')).toBe(true);
    expect(evaluate('ClientStatus contains run')).toBe(true);
    expect(evaluate('ClientStatus not contains run')).toBe(false);
  });

  it('should treat only the empty string as an empty string', () => {
    expect(evaluate('DeploymentID is empty')).toBe(true);
    expect(evaluate('ClientStatus is empty')).toBe(false);
    expect(evaluate('ClientStatus is not empty')).toBe(true);
  });

  it('should match regular expressions, unanchored, with Go inline flags', () => {
    expect(evaluate('Name matches "^web\\\\.web\\\\[\\\\d+\\\\]$"')).toBe(true);
    expect(evaluate('NodeName matches `node-[0-9]`')).toBe(true);
    expect(evaluate('NodeName matches `^[0-9]`')).toBe(false);
    expect(evaluate('NodeName not matches `^node`')).toBe(false);
    expect(evaluate('NodeName matches `(?i)^NODE`')).toBe(true);
  });

  it('should fail on a bad regular expression only when it is evaluated', () => {
    const ast = parseFilter('NodeName matches "("');
    expect(thrown(() => evaluateFilter(ast, allocation()))).toBeInstanceOf(FilterEvaluationError);
    expect(evaluationError('NodeName matches "("')).toMatch(/^failed to compile regular expression "\(": error parsing regexp: /);
    expect(evaluationError('NodeName matches "a(?=b)"')).toMatch(/invalid or unsupported Perl syntax: `\(\?=`$/);
  });

  it('should refuse to match a regular expression against a non-string', () => {
    expect(evaluationError('Job.Priority matches "5"')).toBe('value of type int is not convertible to []byte');
  });

  it('should compare bools using Go ParseBool spellings', () => {
    for (const yes of ['true', 'True', 'TRUE', 't', 'T', '1']) expect(evaluate(`DesiredTransition.Reschedule == ${yes}`)).toBe(true);
    for (const no of ['false', 'False', 'FALSE', 'f', 'F', '0']) expect(evaluate(`Job.Stop == ${no}`)).toBe(true);
    expect(evaluate('Job.Stop != true')).toBe(true);
  });

  it('should fail when a literal is not a Go bool', () => {
    expect(evaluationError('Job.Stop == yes')).toBe(
      'error getting match value in expression: strconv.ParseBool: parsing "yes": invalid syntax',
    );
  });

  it('should compare ints after Go base-0 integer parsing', () => {
    expect(evaluate('Job.Priority == 50')).toBe(true);
    expect(evaluate('Job.Priority == "0x32"')).toBe(true);
    expect(evaluate('Job.Priority == "062"')).toBe(true);
    expect(evaluate('Job.Priority == "5_0"')).toBe(true);
    expect(evaluate('Job.Priority != 51')).toBe(true);
  });

  it('should fail when a literal is not a Go integer', () => {
    expect(evaluationError('Job.Priority == 1.5')).toBe(
      'error getting match value in expression: strconv.ParseInt: parsing "1.5": invalid syntax',
    );
    expect(evaluationError('Job.Priority == "08"')).toBe(
      'error getting match value in expression: strconv.ParseInt: parsing "08": invalid syntax',
    );
  });

  it('should compare floats numerically', () => {
    expect(evaluate('Weight == 0.25')).toBe(true);
    expect(evaluate('Weight == 0.250')).toBe(true);
    expect(evaluate('Weight == "2.5e-1"')).toBe(true);
    expect(evaluate('Weight != 1')).toBe(true);
    expect(evaluationError('Weight == abc')).toBe(
      'error getting match value in expression: strconv.ParseFloat: parsing "abc": invalid syntax',
    );
  });

  it('should compare bigints exactly across the whole uint64 range', () => {
    expect(evaluate('CreateIndex == 42')).toBe(true);
    expect(evaluate('CreateIndex != 42')).toBe(false);
    expect(evaluate('CreateTime == 1700000000000000000')).toBe(true);
    expect(evaluate('CreateTime == 1700000000000000001')).toBe(false);
    expect(evaluate('Max == 18446744073709551615', { Max: 18_446_744_073_709_551_615n })).toBe(true);
    expect(evaluationError('CreateIndex == 18446744073709551616')).toBe(
      'error getting match value in expression: strconv.ParseUint: parsing "18446744073709551616": value out of range',
    );
  });

  it('should find elements in slices with in and contains, converting to the element kind', () => {
    expect(evaluate('"dc1" in Job.Datacenters')).toBe(true);
    expect(evaluate('dc3 in Job.Datacenters')).toBe(false);
    expect(evaluate('dc3 not in Job.Datacenters')).toBe(true);
    expect(evaluate('Job.Datacenters contains dc2')).toBe(true);
    expect(evaluate('8080 in Ports')).toBe(true);
    expect(evaluate('Ports not contains 80')).toBe(true);
    expect(evaluationError('http in Ports')).toBe(
      'error getting match value in expression: strconv.ParseInt: parsing "http": invalid syntax',
    );
  });

  it('should skip unconvertible elements of a mixed slice like a Go []interface{}', () => {
    expect(evaluate('foobar in Mixed')).toBe(true);
    expect(evaluate('"1" in Mixed')).toBe(true);
    expect(evaluate('"true" in Mixed')).toBe(true);
    expect(evaluate('"2" in Mixed')).toBe(false);
  });

  it('should find keys in maps with in and contains', () => {
    expect(evaluate('"web" in TaskStates')).toBe(true);
    expect(evaluate('redis in TaskStates')).toBe(false);
    expect(evaluate('redis not in TaskStates')).toBe(true);
    expect(evaluate('TaskStates contains sidecar')).toBe(true);
    expect(evaluate('Job.Meta not contains owner')).toBe(false);
  });

  it('should treat empty and nil slices and maps as empty', () => {
    expect(evaluate('Empty is empty')).toBe(true);
    expect(evaluate('EmptyMap is empty')).toBe(true);
    expect(evaluate('PreemptedAllocations is empty')).toBe(true);
    expect(evaluate('Job.Datacenters is not empty')).toBe(true);
    expect(evaluate('TaskStates is empty')).toBe(false);
    expect(evaluate('"x" in PreemptedAllocations')).toBe(false);
  });

  it('should test nil-ness of pointers, slices, maps and structs', () => {
    expect(evaluate('DeploymentStatus is nil')).toBe(true);
    expect(evaluate('DesiredTransition.Migrate is nil')).toBe(true);
    expect(evaluate('DesiredTransition.Migrate is not nil')).toBe(false);
    expect(evaluate('Job is nil')).toBe(false);
    expect(evaluate('Empty is nil')).toBe(false);
    expect(evaluate('TaskStates is not nil')).toBe(true);
  });

  it('should refuse is nil and is empty on plain values, as go-bexpr does', () => {
    expect(evaluationError('ClientStatus is nil')).toBe('cannot perform is-nil operations on type string for selector: "ClientStatus"');
    expect(evaluationError('DesiredTransition.Reschedule is nil')).toBe(
      'cannot perform is-nil operations on type bool for selector: "DesiredTransition.Reschedule"',
    );
    expect(evaluationError('Job.Stop is empty')).toBe('cannot perform is-empty operations on type bool for selector: "Job.Stop"');
  });

  it('should refuse == on maps, slices, structs and nils, and in on structs', () => {
    const noComparison = 'unable to find suitable primitive comparison function for matching';
    expect(evaluationError('TaskStates == web')).toBe(noComparison);
    expect(evaluationError('Job.Datacenters == dc1')).toBe(noComparison);
    expect(evaluationError('Job == web')).toBe(noComparison);
    expect(evaluationError('DesiredTransition.Migrate == true')).toBe(noComparison);
    expect(evaluationError('Name in Job')).toBe('cannot perform in/contains operations on type struct for selector: "Job"');
    expect(evaluationError('"5" in Job.Priority')).toBe('cannot perform in/contains operations on type int for selector: "Job.Priority"');
  });

  it('should select through maps with dots, index expressions and JSON pointers', () => {
    expect(evaluate('TaskStates.web.State == running')).toBe(true);
    expect(evaluate('TaskStates["sidecar"].State == pending')).toBe(true);
    expect(evaluate('TaskStates.sidecar.Failed == true')).toBe(true);
    expect(evaluate('TaskStates.web.Restarts == 2')).toBe(true);
    expect(evaluate('Job.Meta.owner == "team-a"')).toBe(true);
    expect(evaluate('"/TaskStates/web/State" == running')).toBe(true);
    expect(evaluate('"/Job/Name" == web')).toBe(true);
  });

  it('should select slice elements by index', () => {
    expect(evaluate('Job.Datacenters.1 == dc2')).toBe(true);
    expect(evaluate('"/Job/Datacenters/0" == dc1')).toBe(true);
    expect(evaluationError('Job.Datacenters.5 == dc1')).toBe(
      'error finding value in datum: /Job/Datacenters/5 at part 2: index 5 is out of range (length = 2)',
    );
    expect(evaluationError('Job.Datacenters.first == dc1')).toBe(
      'error finding value in datum: /Job/Datacenters/first at part 2: couldn\'t convert value "first" to type int',
    );
  });

  it('should fail on an unknown struct field with pointerstructure\'s text', () => {
    expect(evaluationError('InvalidField == 1')).toBe(
      'error finding value in datum: /InvalidField at part 0: couldn\'t find key: struct field with name "InvalidField"',
    );
    expect(evaluationError('JobType == service')).toBe(
      'error finding value in datum: /JobType at part 0: couldn\'t find key: struct field with name "JobType"',
    );
    expect(evaluationError('TaskStates.web.Nope is empty')).toBe(
      'error finding value in datum: /TaskStates/web/Nope at part 2: couldn\'t find key: struct field with name "Nope"',
    );
  });

  it('should fail on a missing map key in the middle of a selector', () => {
    expect(evaluationError('TaskStates.nope.State == running')).toBe(
      'error finding value in datum: /TaskStates/nope/State at part 1: couldn\'t find key "nope"',
    );
  });

  it('should treat a missing last map key as not present instead of failing', () => {
    expect(evaluate('Job.Meta.team == x')).toBe(false);
    expect(evaluate('Job.Meta.team != x')).toBe(true);
    expect(evaluate('Job.Meta.team is empty')).toBe(true);
    expect(evaluate('Job.Meta.team is not nil')).toBe(false);
    expect(evaluate('x in Job.Meta.team')).toBe(false);
    expect(evaluate('Job.Meta.team not matches "."')).toBe(true);
  });

  it('should fail when selecting through a plain value or a nil pointer', () => {
    expect(evaluationError('ClientStatus.x == 1')).toBe('error finding value in datum: /ClientStatus/x: at part 1, invalid value kind: string');
    expect(evaluationError('DeploymentStatus.Healthy == true')).toBe(
      'error finding value in datum: /DeploymentStatus/Healthy: at part 1, invalid value kind: invalid',
    );
  });

  it('should treat a null as a nil map when nilKindAt says so', () => {
    const datum = { Job: { Meta: null } };
    const options: EvaluateOptions = { nilKindAt: (path) => (path.at(-1) === 'Meta' ? 'map' : 'pointer') };
    expect(evaluate('Job.Meta.owner == x', datum, options)).toBe(false);
    expect(evaluate('Job.Meta.owner != x', datum, options)).toBe(true);
    expect(evaluate('Job.Meta is empty', datum, options)).toBe(true);
    expect(evaluationError('Job.Meta.a.b == x', datum, options)).toBe(
      'error finding value in datum: /Job/Meta/a/b at part 2: couldn\'t find key "a"',
    );
    expect(evaluationError('Job.Meta.owner == x', datum)).toBe(
      'error finding value in datum: /Job/Meta/owner: at part 2, invalid value kind: invalid',
    );
  });

  it('should treat a null as a nil pointer for is empty and in when nilKindAt says so', () => {
    const options: EvaluateOptions = { nilKindAt: () => 'pointer' };
    expect(evaluationError('DeploymentStatus is empty', allocation(), options)).toBe(
      'cannot perform is-empty operations on type invalid for selector: "DeploymentStatus"',
    );
  });

  it('should apply and, or and not with the right precedence', () => {
    expect(evaluate('ClientStatus == pending or TaskGroup == web and DesiredStatus == run')).toBe(true);
    expect(evaluate('(ClientStatus == pending or TaskGroup == web) and DesiredStatus == stop')).toBe(false);
    expect(evaluate('not ClientStatus == pending and TaskGroup == web')).toBe(true);
    expect(evaluate('not (ClientStatus == running and TaskGroup == web)')).toBe(false);
    expect(evaluate('not not ClientStatus == running')).toBe(true);
  });

  it('should short-circuit so that an unreached bad selector does not fail', () => {
    expect(evaluate('ClientStatus == running or InvalidField == 1')).toBe(true);
    expect(evaluate('ClientStatus == pending and InvalidField == 1')).toBe(false);
    expect(evaluationError('ClientStatus == pending or InvalidField == 1')).toMatch(/InvalidField/);
  });

  it('should iterate map keys with any and all', () => {
    expect(evaluate('any TaskStates as name { name == sidecar }')).toBe(true);
    expect(evaluate('all TaskStates as name { name == web }')).toBe(false);
    expect(evaluate('all TaskStates as name, _ { name != redis }')).toBe(true);
  });

  it('should iterate map values with a value binding', () => {
    expect(evaluate('any TaskStates as _, state { state.Failed == true }')).toBe(true);
    expect(evaluate('all TaskStates as _, state { state.State == running }')).toBe(false);
    expect(evaluate('any TaskStates as name, state { name == web and state.State == running }')).toBe(true);
    expect(evaluate('any TaskStates as name, state { name == web and state.State == pending }')).toBe(false);
  });

  it('should iterate slice elements and indexes', () => {
    expect(evaluate('any Job.Datacenters as dc { dc == dc2 }')).toBe(true);
    expect(evaluate('all Job.Datacenters as dc { dc matches "^dc" }')).toBe(true);
    expect(evaluate('any Job.Datacenters as i, dc { i == 1 and dc == dc2 }')).toBe(true);
    expect(evaluate('any Job.Datacenters as i, _ { i == 2 }')).toBe(false);
    expect(evaluate('(any Ports as p { p == 9090 }) and TaskGroup == web')).toBe(true);
  });

  it('should nest collection expressions', () => {
    const datum = { Groups: [{ Tasks: ['a', 'b'] }, { Tasks: ['c'] }] };
    expect(evaluate('any Groups as g { any g.Tasks as t { t == c } }', datum)).toBe(true);
    expect(evaluate('all Groups as g { any g.Tasks as t { t == a } }', datum)).toBe(false);
  });

  it('should see nothing in empty, nil or absent collections', () => {
    expect(evaluate('any Empty as x { x == 1 }')).toBe(false);
    expect(evaluate('all Empty as x { x == 1 }')).toBe(true);
    expect(evaluate('all PreemptedAllocations as x { x == 1 }')).toBe(true);
    expect(evaluate('any Job.Meta.nope as x { x == 1 }')).toBe(false);
    expect(evaluate('all Job.Meta.nope as x { x == 1 }')).toBe(true);
  });

  it('should report go-bexpr\'s collection errors', () => {
    expect(evaluationError('all TaskStates as k, k { TaskGroup == web }')).toBe(
      '"k" cannot be used as a placeholder for both the index and the value',
    );
    expect(evaluationError('all Job.Priority as k, v { k == v }')).toBe('Job.Priority is not a list or a map');
    expect(evaluationError('any TaskStates as k { k.State == running }')).toBe('/k references a string so /k/State is invalid');
    expect(evaluationError('any Ports as i, _ { i.x == 1 }')).toBe('/i references a int so /i/x is invalid');
  });
});
