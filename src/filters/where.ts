/**
 * Turns the gateway's typed `where` argument into a go-bexpr (v0.1.16) expression for Nomad's
 * `GET /v1/allocations?filter=`, and joins it with a caller's raw filter. Selectors are field names
 * of Nomad's full Go `structs.Allocation`, which is what the list endpoint evaluates filters on.
 */

/** Typed allocation filters; every set field adds one clause, and the clauses are joined with `and`. */
export interface AllocationWhere {
  /** Nomad `ClientStatus` values (`pending`, `running`, `complete`, `failed`, `lost`, `unknown`); an empty list matches nothing. */
  clientStatusIn?: readonly string[];
  /** Nomad `DesiredStatus` values (`run`, `stop`, `evict`); an empty list matches nothing. */
  desiredStatusIn?: readonly string[];
  /** Exact `JobID`. */
  jobId?: string;
  /** Any of these `JobID`s; an empty list matches nothing. */
  jobIdIn?: readonly string[];
  /** Exact `TaskGroup`. */
  taskGroup?: string;
  /** Exact `NodeID`. */
  nodeId?: string;
  /** Exact `NodeName`. */
  nodeName?: string;
  /** Substring of the allocation `Name` (`<job>.<group>[<index>]`), case-sensitive. */
  nameContains?: string;
  /** Exact `Job.Type` (`service`, `batch`, `system`, `sysbatch`). */
  jobType?: string;
}

/**
 * A clause that is false for every allocation and can never fail to evaluate.
 *
 * `ID == ""` alone would only be false by a data invariant (the memdb primary key is never empty).
 * `ID == "" and ID != ""` is a contradiction instead: `ID` is a string field present on every
 * `structs.Allocation` (so the lookup cannot error, which in Nomad would fail the whole request),
 * `==` and `!=` on a string are exact complements, and `and` short-circuits — so it is false for any
 * value of `ID`, empty or not. It touches no pointer (unlike `Job.Type`) and no map key.
 */
export const MATCH_NOTHING = '(ID == "" and ID != "")';

const NAMED_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\', '"': '\\x22' };

function hex(code: number, width: number): string {
  return code.toString(16).padStart(width, '0');
}

/** The go-bexpr (Go `strconv.Unquote`) spelling of one code point inside a double-quoted literal. */
function escapeChar(char: string): string {
  const named = NAMED_ESCAPES[char];
  if (named !== undefined) return named;
  const code = char.codePointAt(0) ?? 0;
  if (code >= 0x20 && code < 0x7f) return char;
  if (code < 0x80) return `\\x${hex(code, 2)}`;
  if (code >= 0xd800 && code <= 0xdfff) return '\\ufffd';
  return code <= 0xffff ? `\\u${hex(code, 4)}` : `\\U${hex(code, 8)}`;
}

/**
 * A double-quoted go-bexpr string literal whose value is exactly `value`.
 *
 * go-bexpr ends a `"…"` literal at the first `"` (it has no `\"`), then runs Go's `strconv.Unquote`,
 * so `"` is written `\x22`, `\` as `\\`, newline/CR/tab as `\n`/`\r`/`\t`, other ASCII controls as
 * `\xNN`, and every non-ASCII code point as `\uNNNN` or `\UNNNNNNNN`. The result is printable ASCII,
 * so no URL or log encoding can alter it, and no value can end the literal early. A leading `/` is
 * written `\x2f`, because go-bexpr tries the quoted JSON-pointer selector form (`"/a/b"`) before the
 * string form, and would turn `"/a/b"` into the value `a/b` (and `~1` into `/`).
 * A lone UTF-16 surrogate has no UTF-8 form (Go strings cannot hold it), so it becomes U+FFFD, the
 * same replacement a UTF-8 encoder makes when the value is sent anywhere else.
 */
export function bexprString(value: string): string {
  let out = '"';
  for (const char of value) out += escapeChar(char);
  // go-bexpr reads a Value as a JSON-pointer selector first: `"/a/b~1c"` would become `a/b/c`.
  if (out.startsWith('"/')) out = `"\\x2f${out.slice(2)}`;
  return `${out}"`;
}

/** `Selector == "v"` for one value, or the `or` of them in parentheses; nothing matches an empty list. */
function anyOf(selector: string, values: readonly string[]): string {
  const unique = [...new Set(values)];
  if (unique.length === 0) return MATCH_NOTHING;
  const clauses = unique.map((value) => `${selector} == ${bexprString(value)}`);
  return `(${clauses.join(' or ')})`;
}

function equals(selector: string, value: string): string {
  return `${selector} == ${bexprString(value)}`;
}

/** One optional clause per `AllocationWhere` field, in declaration order. */
function whereClauses(where: AllocationWhere): readonly (string | undefined)[] {
  const list = (selector: string, values: readonly string[] | undefined) => (values === undefined ? undefined : anyOf(selector, values));
  const one = (selector: string, value: string | undefined) => (value === undefined ? undefined : equals(selector, value));
  return [
    list('ClientStatus', where.clientStatusIn),
    list('DesiredStatus', where.desiredStatusIn),
    one('JobID', where.jobId),
    list('JobID', where.jobIdIn),
    one('TaskGroup', where.taskGroup),
    one('NodeID', where.nodeId),
    one('NodeName', where.nodeName),
    where.nameContains === undefined ? undefined : `Name contains ${bexprString(where.nameContains)}`,
    one('Job.Type', where.jobType),
  ];
}

/**
 * The go-bexpr expression for `where`: the `and` of one clause per set field, or undefined when no
 * field is set. A set but empty list yields `MATCH_NOTHING`, so the whole expression matches nothing.
 * Note that `jobType` reads `Job.Type` through the allocation's `Job` pointer, which Nomad always sets
 * on stored allocations.
 */
export function whereToBexpr(where: AllocationWhere): string | undefined {
  const clauses = whereClauses(where).filter((clause) => clause !== undefined);
  return clauses.length === 0 ? undefined : clauses.join(' and ');
}

/** Thrown by `combineFilters` for a filter whose parentheses or quotes do not balance. */
export class UnbalancedFilterError extends Error {
  override readonly name = 'UnbalancedFilterError';

  constructor(readonly expression: string) {
    super('filter expression has unbalanced parentheses or an unterminated string literal');
  }
}

/**
 * Whether every `(` in `expression` is closed inside it and no string is left open, reading quotes
 * the way go-bexpr does: `"…"` (strings and JSON-pointer selectors) ends at the next `"`, and
 * `` `…` `` at the next backquote, with no escapes for either.
 */
function isSelfContained(expression: string): boolean {
  let depth = 0;
  let quote: string | undefined;
  for (const char of expression) {
    if (quote !== undefined) {
      if (char === quote) quote = undefined;
    } else if (char === '"' || char === '`') {
      quote = char;
    } else if (char === '(') {
      depth += 1;
    } else if (char === ')') {
      depth -= 1;
      if (depth < 0) return false;
    }
  }
  return quote === undefined && depth === 0;
}

function present(expression: string | undefined): string | undefined {
  return expression === undefined || expression.trim() === '' ? undefined : expression;
}

function grouped(expression: string): string {
  if (!isSelfContained(expression)) throw new UnbalancedFilterError(expression);
  return `(${expression})`;
}

/**
 * `(raw) and (where)`; either part unchanged when the other is absent or blank (whitespace only);
 * undefined when both are. The parentheses keep a raw `A or B` from escaping the `where` clause.
 * A raw filter such as `A) or (B` or `Name == "x` could still break out of them, so when combining,
 * unbalanced input is refused. Such input is never a valid go-bexpr expression on its own, so nothing
 * Nomad would accept is refused; a lone raw filter is passed through for Nomad to report on.
 * @throws UnbalancedFilterError when combining a part with unbalanced parentheses or an unterminated string.
 */
export function combineFilters(raw: string | undefined, where: string | undefined): string | undefined {
  const rawPart = present(raw);
  const wherePart = present(where);
  if (rawPart === undefined || wherePart === undefined) return rawPart ?? wherePart;
  return `${grouped(rawPart)} and ${grouped(wherePart)}`;
}
