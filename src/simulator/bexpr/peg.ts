/**
 * A tiny PEG interpreter with the semantics of the pigeon-generated parser go-bexpr uses: ordered
 * choice without memoisation, farthest-failure expectations (inverted inside `!`), errors from
 * actions and `&{...}` predicates that stick even after backtracking, positions as
 * `line:col (byte offset)`, and a budget of 2,000,000 evaluated expressions.
 * Every combinator counts as one pigeon expression so that the budget runs out at the same point.
 */

/** What a parsing expression returns when it does not match. */
export const FAIL: unique symbol = Symbol('fail');
/** The type of `FAIL`. */
export type Fail = typeof FAIL;
/** A parsing expression: matches at `p.pos` and yields a value, or yields `FAIL` with the cursor unmoved. */
export type Node<T> = (p: PegState) => T | Fail;

/** go-bexpr's default `MaxExpressions` for the parser. */
const MAX_EXPRESSIONS = 2_000_000;

interface Position {
  readonly line: number;
  readonly col: number;
  readonly offset: number;
}

class ParseAborted extends Error {}

function utf8Length(char: string): number {
  const code = char.codePointAt(0) ?? 0;
  if (code < 0x80) return 1;
  if (code < 0x800) return 2;
  return code < 0x10000 ? 3 : 4;
}

/** Positions as pigeon counts them: 1-based line, rune column (0 on a newline), byte offset. */
function computePositions(chars: readonly string[]): Position[] {
  const positions: Position[] = [];
  let line = 1;
  let col = 0;
  let offset = 0;
  for (const char of [...chars, '']) {
    col += 1;
    if (char === '\n') {
      line += 1;
      col = 0;
    }
    positions.push({ line, col, offset });
    offset += char === '' ? 0 : utf8Length(char);
  }
  return positions;
}

/** The mutable state of one parse: input cursor, farthest failure and collected errors. */
export class PegState {
  readonly chars: readonly string[];
  readonly positions: readonly Position[];
  readonly ruleStack: string[] = [];
  readonly errors: string[] = [];
  pos = 0;
  invert = false;
  private steps = 0;
  private maxFail = 0;
  private expected: string[] = [];

  constructor(input: string) {
    this.chars = Array.from(input);
    this.positions = computePositions(this.chars);
  }

  /** Counts one expression, like pigeon's `ExprCnt`; aborts the parse past the budget. */
  step(): void {
    this.steps += 1;
    if (this.steps > MAX_EXPRESSIONS) {
      this.addError('max number of expressions parsed', this.pos);
      throw new ParseAborted();
    }
  }

  /** pigeon's `failAt`: records failures (or, inside `!`, successes) at the farthest position. */
  failAt(matched: boolean, at: number, want: string): void {
    if (matched !== this.invert || at < this.maxFail) return;
    if (at > this.maxFail) {
      this.maxFail = at;
      this.expected = [];
    }
    this.expected.push(this.invert ? `!${want}` : want);
  }

  /** pigeon's `addErrAt`: the message is prefixed with the position and the innermost rule. */
  addError(message: string, at: number): void {
    const rule = this.ruleStack.at(-1);
    this.errors.push(`${this.where(at)}${rule === undefined ? '' : `: rule ${rule}`}: ${message}`);
  }

  /** The error pigeon reports when nothing matched and no other error was recorded. */
  addNoMatchError(): void {
    const unique = new Set(this.expected);
    const eof = unique.delete('!.');
    const expected = [...unique].sort();
    if (eof) expected.push('EOF');
    const list = expected.length < 2 ? expected.join('') : `${expected.slice(0, -1).join(', ')} or ${expected.at(-1)}`;
    this.errors.push(`${this.where(this.maxFail)}: no match found, expected: ${list}`);
  }

  /** The input matched from index `from` up to the cursor. */
  text(from: number): string {
    return this.chars.slice(from, this.pos).join('');
  }

  private where(at: number): string {
    const position = this.positions[at] ?? { line: 1, col: 1, offset: 0 };
    return `${position.line}:${position.col} (${position.offset})`;
  }
}

// ---- combinators, one per pigeon expression type ----

/** A literal (`"or"`); expected-list entry is its Go-quoted form. */
export function lit(value: string): Node<string> {
  const want = JSON.stringify(value);
  const chars = Array.from(value);
  return (p) => {
    p.step();
    const start = p.pos;
    for (const char of chars) {
      if (p.chars[p.pos] !== char) {
        p.failAt(false, start, want);
        p.pos = start;
        return FAIL;
      }
      p.pos += 1;
    }
    p.failAt(true, start, want);
    return value;
  };
}

/** A character class; `display` is how pigeon names it in expected lists (`[a-zA-Z]`). */
export function cls(display: string, test: RegExp): Node<string> {
  return (p) => {
    p.step();
    const start = p.pos;
    const char = p.chars[start];
    const matched = char !== undefined && test.test(char);
    p.failAt(matched, start, display);
    if (!matched) return FAIL;
    p.pos += 1;
    return char;
  };
}

/** `.`: any character. */
export const anyChar: Node<string> = (p) => {
  p.step();
  const char = p.chars[p.pos];
  p.failAt(char !== undefined, p.pos, '.');
  if (char === undefined) return FAIL;
  p.pos += 1;
  return char;
};

/** A sequence; yields the tuple of its parts' values. */
export function seq<T extends unknown[]>(...nodes: { [K in keyof T]: Node<T[K]> }): Node<T> {
  return (p) => {
    p.step();
    const start = p.pos;
    const values: unknown[] = [];
    for (const node of nodes) {
      const value = node(p);
      if (value === FAIL) {
        p.pos = start;
        return FAIL;
      }
      values.push(value);
    }
    return values as T;
  };
}

/** Ordered choice: the first alternative that matches. */
export function choice<T>(...alternatives: Node<T>[]): Node<T> {
  return (p) => {
    p.step();
    for (const alternative of alternatives) {
      const value = alternative(p);
      if (value !== FAIL) return value;
    }
    return FAIL;
  };
}

/** `e*` (min 0) or `e+` (min 1). */
export function repeat<T>(node: Node<T>, min: 0 | 1): Node<T[]> {
  return (p) => {
    p.step();
    const values: T[] = [];
    for (let value = node(p); value !== FAIL; value = node(p)) values.push(value);
    return values.length < min ? FAIL : values;
  };
}

/** `e?`; yields null when absent. */
export function opt<T>(node: Node<T>): Node<T | null> {
  return (p) => {
    p.step();
    const value = node(p);
    return value === FAIL ? null : value;
  };
}

/** `!expr` (lookahead that must fail) or `&expr` (lookahead that must match). */
export function lookahead(node: Node<unknown>, negate: boolean): Node<null> {
  return (p) => {
    p.step();
    const start = p.pos;
    if (negate) p.invert = !p.invert;
    const matched = node(p) !== FAIL;
    if (negate) p.invert = !p.invert;
    p.pos = start;
    return matched !== negate ? null : FAIL;
  };
}

/** A `&{ return false, errors.New(message) }` predicate: records a sticky error and fails. */
export function failWith(message: string): Node<never> {
  return (p) => {
    p.step();
    p.addError(message, p.pos);
    return FAIL;
  };
}

/** An alternative that ends in `failWith`, typed as whatever its choice produces. */
export function failing<T>(node: Node<unknown>): Node<T> {
  return (p) => {
    node(p);
    return FAIL;
  };
}

/** What an action sees besides its expression's value. */
export interface ActionContext {
  /** The matched input text. */
  readonly text: string;
  /** Records an error at the start of the matched text (the action itself still succeeds). */
  readonly fail: (message: string) => void;
}

/** A `{ code }` action over `node`'s value and matched text. */
export function action<T, R>(node: Node<T>, run: (value: T, context: ActionContext) => R): Node<R> {
  return (p) => {
    p.step();
    const start = p.pos;
    const value = node(p);
    if (value === FAIL) return FAIL;
    return run(value, { text: p.text(start), fail: (message) => p.addError(message, start) });
  };
}

/** A `name:e` label: only counts as an expression (values are passed positionally). */
export function label<T>(node: Node<T>): Node<T> {
  return (p) => {
    p.step();
    return node(p);
  };
}

/** The outcome of `runPeg`: the start rule's value, or pigeon's error text. */
export type PegResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

/** Runs `start` over `input` and reports like pigeon's `Parse`: any recorded error fails the parse. */
export function runPeg<T>(input: string, start: (p: PegState) => T | Fail): PegResult<T> {
  const p = new PegState(input);
  let value: T | Fail = FAIL;
  try {
    value = start(p);
  } catch (error) {
    if (!(error instanceof ParseAborted)) throw error;
  }
  if (value === FAIL && p.errors.length === 0) p.addNoMatchError();
  if (p.errors.length > 0 || value === FAIL) return { ok: false, message: [...new Set(p.errors)].join('\n') };
  return { ok: true, value };
}
