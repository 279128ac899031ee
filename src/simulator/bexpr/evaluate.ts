/**
 * Evaluates a parsed go-bexpr (v0.1.16) filter against a datum that stands for a Go value:
 * plain object = struct, `Map` = map, array = slice, `null` = nil, number = int (or float64 when
 * not an integer), bigint = int64/uint64. Lookups follow mitchellh/pointerstructure v1.2.1 and
 * the operators follow go-bexpr's `evaluate.go`, including its error texts.
 */
import type { CollectionExpression, FilterAst, MatchExpression, MatchOperator } from './ast.ts';
import { pointerToString, selectorToString } from './ast.ts';
import { FilterEvaluationError } from './errors.ts';
import type { StrconvProblem } from './go-strconv.ts';
import { goQuote, parseGoBool, parseGoFloat, parseGoInt, parseGoUint } from './go-strconv.ts';

/** Which Go nil a JS `null` stands for. */
export type NilKind = 'pointer' | 'map' | 'slice';

/** Optional knowledge about the Go types behind the datum. */
export interface EvaluateOptions {
  /**
   * The Go kind of a `null` found at `path` (field names and keys from the root). Without it a
   * null is a nil pointer when a selector goes through it, and acts as a nil map or slice when it
   * is the selected value (`is empty` and `is nil` are true, `in` is false, `any`/`all` see nothing).
   */
  readonly nilKindAt?: (path: readonly string[]) => NilKind;
}

type NilMode = NilKind | 'unknown';
type GoValue =
  | { readonly kind: 'struct'; readonly value: Readonly<Record<string, unknown>> }
  | { readonly kind: 'map'; readonly value: ReadonlyMap<unknown, unknown> }
  | { readonly kind: 'slice'; readonly value: readonly unknown[] }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'int' | 'float64'; readonly value: number }
  | { readonly kind: 'int64' | 'uint64'; readonly value: bigint }
  | { readonly kind: 'nil'; readonly value: null };
type Kind = GoValue['kind'];
type Scalar = boolean | bigint | number | string;
type ScalarValue = Extract<GoValue, { value: Scalar }>;

/** A name bound by `any`/`all`: either a value (map key, slice index) or an alias for a path. */
interface Local {
  readonly name: string;
  readonly path?: readonly string[];
  readonly value?: string | number;
}

interface Context {
  readonly datum: unknown;
  readonly locals: readonly Local[];
  readonly nilKindAt: (path: readonly string[]) => NilMode;
}

type Found = { readonly present: false } | { readonly present: true; readonly value: GoValue; readonly nil: NilMode };
type Step = { readonly value: unknown } | { readonly error: string; readonly notFound: boolean; readonly badKind: boolean };

const NOT_PRESENT_RESULT: Readonly<Record<MatchOperator, boolean>> = {
  equal: false, notEqual: true, in: false, notIn: true, isEmpty: true,
  isNotEmpty: false, matches: false, notMatches: true, isNil: true, isNotNil: false,
};

function classify(value: unknown): GoValue {
  switch (typeof value) {
    case 'string': return { kind: 'string', value };
    case 'boolean': return { kind: 'bool', value };
    case 'number': return { kind: Number.isInteger(value) ? 'int' : 'float64', value };
    case 'bigint': return { kind: value < 0n ? 'int64' : 'uint64', value };
    case 'object':
      if (value === null) return { kind: 'nil', value };
      if (value instanceof Map) return { kind: 'map', value };
      if (Array.isArray(value)) return { kind: 'slice', value };
      return { kind: 'struct', value: value as Readonly<Record<string, unknown>> };
    default: return { kind: 'nil', value: null };
  }
}

function fail(message: string): never {
  throw new FilterEvaluationError(message);
}

// ---- literal conversion ----

type Conversion = { readonly ok: true; readonly value: Scalar } | { readonly ok: false; readonly problem: StrconvProblem; readonly message: string };

function converted(fn: string, raw: string, parsed: Scalar | StrconvProblem): Conversion {
  if (parsed !== 'syntax' && parsed !== 'range') return { ok: true, value: parsed };
  const reason = parsed === 'syntax' ? 'invalid syntax' : 'value out of range';
  return { ok: false, problem: parsed, message: `strconv.${fn}: parsing ${goQuote(raw)}: ${reason}` };
}

/** The literal converted to a value's kind like go-bexpr's `getMatchExprValue` (bigints accept int64 and uint64). */
function convert(raw: string, kind: Kind): Conversion {
  if (kind === 'bool') return converted('ParseBool', raw, parseGoBool(raw));
  if (kind === 'float64') return converted('ParseFloat', raw, parseGoFloat(raw));
  if (kind !== 'int' && kind !== 'int64' && kind !== 'uint64') return { ok: true, value: raw };
  const signed = converted('ParseInt', raw, parseGoInt(raw));
  if (signed.ok || kind === 'int') return signed;
  const unsigned = converted('ParseUint', raw, parseGoUint(raw));
  return unsigned.ok || kind === 'uint64' ? unsigned : signed;
}

function coerce(raw: string, kind: Kind): Scalar {
  const conversion = convert(raw, kind);
  return conversion.ok ? conversion.value : fail(`error getting match value in expression: ${conversion.message}`);
}

function isScalar(value: GoValue): value is ScalarValue {
  return ['bool', 'int', 'int64', 'uint64', 'float64', 'string'].includes(value.kind);
}

/** The value in the form `coerce` produces for its kind (ints compare as bigint). */
function comparable(value: ScalarValue): Scalar {
  return value.kind === 'int' ? BigInt(value.value) : value.value;
}

// ---- lookups (pointerstructure.Pointer.Get) ----

function sliceElement(slice: readonly unknown[], part: string): Step {
  const index = parseGoInt(part === '' ? '0' : part);
  if (typeof index !== 'bigint') {
    return { error: `couldn't convert value ${goQuote(part)} to type int`, notFound: false, badKind: false };
  }
  if (index < 0n || index >= BigInt(slice.length)) {
    return { error: `index ${index} is out of range (length = ${slice.length})`, notFound: false, badKind: false };
  }
  return { value: slice[Number(index)] };
}

function stepInto(current: GoValue, part: string, path: readonly string[], ctx: Context): Step {
  const missingKey = { error: `couldn't find key ${goQuote(part)}`, notFound: true, badKind: false };
  switch (current.kind) {
    case 'struct':
      if (Object.hasOwn(current.value, part)) return { value: current.value[part] };
      return { error: `couldn't find key: struct field with name ${goQuote(part)}`, notFound: true, badKind: false };
    case 'map':
      return current.value.has(part) ? { value: current.value.get(part) } : missingKey;
    case 'slice':
      return sliceElement(current.value, part);
    case 'nil': {
      const nil = ctx.nilKindAt(path);
      if (nil === 'map') return missingKey;
      if (nil === 'slice') return sliceElement([], part);
      return { error: 'invalid', notFound: false, badKind: true };
    }
    default:
      return { error: current.kind, notFound: false, badKind: true };
  }
}

type Lookup = { readonly value: GoValue } | { readonly error: string; readonly notFound: boolean };

function lookup(path: readonly string[], ctx: Context): Lookup {
  let current = classify(ctx.datum);
  for (const [i, part] of path.entries()) {
    const step = stepInto(current, part, path.slice(0, i), ctx);
    if ('error' in step) {
      const pointer = pointerToString(path);
      const error = step.badKind
        ? `${pointer}: at part ${i}, invalid value kind: ${step.error}`
        : `${pointer} at part ${i}: ${step.error}`;
      return { error, notFound: step.notFound };
    }
    current = classify(step.value);
  }
  return { value: current };
}

/** go-bexpr's `evaluateNotPresent`: a missing last key directly under a map is "not present". */
function isNotPresent(path: readonly string[], ctx: Context): boolean {
  if (path.length < 2) return false;
  const parentPath = path.slice(0, -1);
  const parent = lookup(parentPath, ctx);
  if (!('value' in parent)) return false;
  return parent.value.kind === 'map' || (parent.value.kind === 'nil' && ctx.nilKindAt(parentPath) === 'map');
}

/** Rewrites a selector path through the `any`/`all` bindings in scope (innermost first). */
function resolveLocals(selectorPath: readonly string[], ctx: Context): { path: readonly string[] } | { value: string | number } {
  let path = selectorPath;
  for (const local of [...ctx.locals].reverse()) {
    if (path.length === 0 || path[0] !== local.name) continue;
    if (local.path !== undefined) {
      path = [...local.path, ...path.slice(1)];
      continue;
    }
    if (path.length > 1) {
      const type = typeof local.value === 'number' ? 'int' : 'string';
      fail(`${pointerToString([local.name])} references a ${type} so ${pointerToString(path)} is invalid`);
    }
    return { value: local.value ?? '' };
  }
  return { path };
}

function getValue(selectorPath: readonly string[], ctx: Context): Found {
  const resolved = resolveLocals(selectorPath, ctx);
  if ('value' in resolved) return { present: true, value: classify(resolved.value), nil: 'unknown' };
  const found = lookup(resolved.path, ctx);
  if ('value' in found) {
    const nil = found.value.kind === 'nil' ? ctx.nilKindAt(resolved.path) : 'unknown';
    return { present: true, value: found.value, nil };
  }
  if (found.notFound && isNotPresent(resolved.path, ctx)) return { present: false };
  return fail(`error finding value in datum: ${found.error}`);
}

// ---- match operators ----

function quotedSelector(node: MatchExpression): string {
  return goQuote(selectorToString(node.selector));
}

function kindName(value: GoValue): string {
  return value.kind === 'nil' ? 'invalid' : value.kind;
}

function matchEqual(node: MatchExpression, subject: GoValue): boolean {
  if (!isScalar(subject)) return fail('unable to find suitable primitive comparison function for matching');
  return coerce(node.value ?? '', subject.kind) === comparable(subject);
}

/** Whether an element equals a converted literal (ints compare as bigint, or as numbers against a float). */
function equalsConverted(element: ScalarValue, expected: Scalar): boolean {
  return (typeof expected === 'number' && element.kind === 'int' ? element.value : comparable(element)) === expected;
}

const KIND_CLASS: Readonly<Record<Kind, string>> = {
  bool: 'bool', string: 'string', int: 'number', float64: 'number', int64: 'bigint', uint64: 'bigint',
  struct: 'struct', map: 'map', slice: 'slice', nil: 'nil',
};

/** A slice whose elements share one kind: go-bexpr's typed-slice branch. */
function typedSliceContains(raw: string, elements: readonly GoValue[], first: GoValue): boolean {
  if (!isScalar(first)) return fail('unable to find suitable primitive comparison function for "in" comparison');
  const kind = elements.some((element) => element.kind === 'float64') ? 'float64' : first.kind;
  const expected = coerce(raw, kind);
  return elements.some((element) => isScalar(element) && equalsConverted(element, expected));
}

/** A slice of mixed kinds: go-bexpr's `[]interface{}` branch, which skips unconvertible elements. */
function interfaceSliceContains(raw: string, elements: readonly GoValue[]): boolean {
  for (const element of elements) {
    const conversion = convert(raw, element.kind);
    if (!conversion.ok && conversion.problem === 'syntax') continue;
    if (!conversion.ok) return fail('error getting interface slice match value in expression');
    if (!isScalar(element)) {
      return fail(`unable to find suitable primitive comparison function for "in" comparison in interface slice: ${element.kind}`);
    }
    if (equalsConverted(element, conversion.value)) return true;
  }
  return false;
}

function sliceContains(raw: string, slice: readonly unknown[]): boolean {
  const elements = slice.map(classify).filter((element) => element.kind !== 'nil');
  const first = elements[0];
  if (first === undefined) return false;
  const mixed = elements.some((element) => KIND_CLASS[element.kind] !== KIND_CLASS[first.kind]);
  return mixed ? interfaceSliceContains(raw, elements) : typedSliceContains(raw, elements, first);
}

function matchIn(node: MatchExpression, subject: GoValue, nil: NilMode): boolean {
  const raw = node.value ?? '';
  coerce(raw, subject.kind);
  if (subject.kind === 'map') return subject.value.has(raw);
  if (subject.kind === 'slice') return sliceContains(raw, subject.value);
  if (subject.kind === 'string') return subject.value.includes(raw);
  if (subject.kind === 'nil' && nil !== 'pointer') return false;
  return fail(`cannot perform in/contains operations on type ${kindName(subject)} for selector: ${quotedSelector(node)}`);
}

function matchIsEmpty(node: MatchExpression, subject: GoValue, nil: NilMode): boolean {
  if (subject.kind === 'string' || subject.kind === 'slice') return subject.value.length === 0;
  if (subject.kind === 'map') return subject.value.size === 0;
  if (subject.kind === 'nil' && nil !== 'pointer') return true;
  return fail(`cannot perform is-empty operations on type ${kindName(subject)} for selector: ${quotedSelector(node)}`);
}

function matchIsNil(node: MatchExpression, subject: GoValue): boolean {
  if (subject.kind === 'nil') return true;
  if (subject.kind === 'map' || subject.kind === 'slice' || subject.kind === 'struct') return false;
  return fail(`cannot perform is-nil operations on type ${kindName(subject)} for selector: ${quotedSelector(node)}`);
}

/** Go RE2 syntax mapped onto a JS RegExp (leading `(?flags)`, `(?P<name>`); lookaround is refused like RE2. */
function compileRegex(pattern: string): RegExp {
  const inline = /^\(\?([ims]+)\)/.exec(pattern);
  const source = (inline === null ? pattern : pattern.slice(inline[0].length)).replaceAll('(?P<', '(?<');
  try {
    const lookaround = /\(\?<?[=!]/.exec(source);
    if (lookaround !== null) throw new SyntaxError(`invalid or unsupported Perl syntax: \`${lookaround[0]}\``);
    return new RegExp(source, [...new Set(inline?.[1] ?? '')].join(''));
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return fail(`failed to compile regular expression ${goQuote(pattern)}: error parsing regexp: ${detail}`);
  }
}

/** A stand-in for the Go type name (the real struct and element types are not known here). */
function goTypeName(value: GoValue): string {
  switch (value.kind) {
    case 'nil': return '<nil>';
    case 'map': return 'map[string]interface {}';
    case 'slice': return '[]interface {}';
    case 'struct': return 'struct {}';
    default: return value.kind;
  }
}

function matchMatches(node: MatchExpression, subject: GoValue): boolean {
  if (subject.kind !== 'string') return fail(`value of type ${goTypeName(subject)} is not convertible to []byte`);
  return compileRegex(node.value ?? '').test(subject.value);
}

function evaluateMatch(node: MatchExpression, ctx: Context): boolean {
  const found = getValue(node.selector.path, ctx);
  if (!found.present) return NOT_PRESENT_RESULT[node.operator];
  const { value, nil } = found;
  switch (node.operator) {
    case 'equal': return matchEqual(node, value);
    case 'notEqual': return !matchEqual(node, value);
    case 'in': return matchIn(node, value, nil);
    case 'notIn': return !matchIn(node, value, nil);
    case 'isEmpty': return matchIsEmpty(node, value, nil);
    case 'isNotEmpty': return !matchIsEmpty(node, value, nil);
    case 'matches': return matchMatches(node, value);
    case 'notMatches': return !matchMatches(node, value);
    case 'isNil': return matchIsNil(node, value);
    case 'isNotNil': return !matchIsNil(node, value);
  }
}

// ---- any / all ----

/** The bindings for one element: map keys bind `default`/`index` by value, map values by path. */
function elementLocals(node: CollectionExpression, key: string | number): Local[] {
  const { binding, selector } = node;
  const elementPath = [...selector.path, String(key)];
  const byValue = typeof key === 'string' ? [binding.default, binding.index] : [binding.index];
  const byPath = typeof key === 'string' ? [binding.value] : [binding.default, binding.value];
  return [
    ...byValue.filter((name) => name !== '').map((name) => ({ name, value: key })),
    ...byPath.filter((name) => name !== '').map((name) => ({ name, path: elementPath })),
  ];
}

function collectionKeys(node: CollectionExpression, found: Extract<Found, { present: true }>): readonly (string | number)[] {
  const { value, nil } = found;
  if (value.kind === 'map') return [...value.value.keys()].map(String);
  if (value.kind === 'slice') return value.value.map((_element, index) => index);
  if (value.kind === 'nil' && nil !== 'pointer') return [];
  return fail(`${selectorToString(node.selector)} is not a list or a map`);
}

function evaluateCollection(node: CollectionExpression, ctx: Context): boolean {
  const found = getValue(node.selector.path, ctx);
  if (!found.present) return node.op === 'all';
  const { binding } = node;
  for (const key of collectionKeys(node, found)) {
    if (binding.mode === 'indexAndValue' && binding.index === binding.value) {
      fail(`${goQuote(binding.index)} cannot be used as a placeholder for both the index and the value`);
    }
    const result = evaluateNode(node.inner, { ...ctx, locals: [...ctx.locals, ...elementLocals(node, key)] });
    if (result === (node.op === 'any')) return result;
  }
  return node.op === 'all';
}

function evaluateNode(node: FilterAst, ctx: Context): boolean {
  switch (node.kind) {
    case 'not': return !evaluateNode(node.operand, ctx);
    case 'binary': {
      const left = evaluateNode(node.left, ctx);
      if (left === (node.operator === 'or')) return left;
      return evaluateNode(node.right, ctx);
    }
    case 'match': return evaluateMatch(node, ctx);
    case 'collection': return evaluateCollection(node, ctx);
  }
}

/**
 * Evaluates `ast` against `datum` the way go-bexpr's `Evaluator.Evaluate` does.
 * @throws FilterEvaluationError with go-bexpr's message (unknown field, missing map key on the
 *   way to the value, literal not convertible to the value's kind, unsupported operand, bad regex).
 */
export function evaluateFilter(ast: FilterAst, datum: unknown, options: EvaluateOptions = {}): boolean {
  const { nilKindAt } = options;
  return evaluateNode(ast, { datum, locals: [], nilKindAt: nilKindAt ?? (() => 'unknown') });
}
