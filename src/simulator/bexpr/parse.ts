/**
 * Parser for go-bexpr v0.1.16 filter expressions: the grammar of go-bexpr's `grammar/grammar.peg`,
 * written node for node on top of a pigeon-compatible PEG engine (`peg.ts`), so that syntax error
 * texts (`1:9 (8): no match found, expected: ...`, `1:12 (11): rule "string": ...`) are go-bexpr's.
 */
import type {
  CollectionBinding,
  CollectionExpression,
  FilterAst,
  MatchExpression,
  MatchOperator,
  Selector,
} from './ast.ts';
import { selectorToString } from './ast.ts';
import { FilterSyntaxError } from './errors.ts';
import { goUnquote } from './go-strconv.ts';
import type { ActionContext, Fail, Node, PegState } from './peg.ts';
import { action, anyChar, choice, cls, failing, failWith, label, lit, lookahead, opt, repeat, runPeg, seq } from './peg.ts';

interface RuleValues {
  Input: FilterAst;
  OrExpression: FilterAst;
  AndExpression: FilterAst;
  NotExpression: FilterAst;
  CollectionExpression: CollectionExpression;
  CollectionIdentifiers: CollectionBinding;
  CollectionOpAny: 'any';
  CollectionOpAll: 'all';
  ParenthesizedExpression: FilterAst;
  MatchExpression: MatchExpression;
  MatchSelectorOpValue: MatchExpression;
  MatchSelectorOp: MatchExpression;
  MatchValueOpSelector: MatchExpression;
  MatchEqual: MatchOperator;
  MatchNotEqual: MatchOperator;
  MatchIsEmpty: MatchOperator;
  MatchIsNotEmpty: MatchOperator;
  MatchIn: MatchOperator;
  MatchNotIn: MatchOperator;
  MatchContains: MatchOperator;
  MatchNotContains: MatchOperator;
  MatchMatches: MatchOperator;
  MatchNotMatches: MatchOperator;
  MatchIsNil: MatchOperator;
  MatchIsNotNil: MatchOperator;
  Selector: Selector;
  JsonPointerSegment: string;
  Identifier: string;
  SelectorOrIndex: string;
  IndexExpression: string;
  Value: string;
  NumberLiteral: string;
  AfterNumbers: null;
  IntegerOrFloat: unknown;
  StringLiteral: string;
  RawStringChar: unknown;
  DoubleStringChar: unknown;
  _: unknown;
  EOF: null;
}
type RuleName = keyof RuleValues;
type Rules = { readonly [K in RuleName]: { readonly display: string; readonly body: Node<RuleValues[K]> } };

function runRule<K extends RuleName>(p: PegState, name: K): RuleValues[K] | Fail {
  const rule = RULES[name];
  p.ruleStack.push(rule.display);
  const value = rule.body(p);
  p.ruleStack.pop();
  return value;
}

function ref<K extends RuleName>(name: K): Node<RuleValues[K]> {
  return (p) => {
    p.step();
    return runRule(p, name);
  };
}

const WS = ref('_');
const OWS = opt(WS);

/** `Name <- _? "==" _?`-style operator rules (`pad` says where the whitespace goes). */
function op(operator: MatchOperator, words: readonly string[], pad: 'optional' | 'around' | 'before'): Node<MatchOperator> {
  if (pad === 'optional') return action(seq(OWS, lit(words[0] ?? ''), OWS), () => operator);
  const parts: Node<unknown>[] = words.flatMap((word) => [WS, lit(word)]);
  if (pad === 'around') parts.push(WS);
  return action(seq(...parts), () => operator);
}

function match(selector: Selector, operator: MatchOperator, value: string | null): MatchExpression {
  return { kind: 'match', selector, operator, value };
}

function binding(mode: CollectionBinding['mode'], names: Partial<CollectionBinding>): CollectionBinding {
  return { mode, default: '', index: '', value: '', ...names };
}

function unquoteAction(_value: unknown, context: ActionContext): string {
  const unquoted = goUnquote(context.text);
  if (unquoted === undefined) context.fail('invalid syntax');
  return unquoted ?? '';
}

const IDENTIFIER = ref('Identifier');
const SELECTOR = ref('Selector');
const IN_OPS = choice(ref('MatchIn'), ref('MatchNotIn'));
const DIGITS = repeat(cls('[0-9]', /[0-9]/), 1);
const STRING_START = choice<unknown>(seq(lit('`'), repeat(ref('RawStringChar'), 0)), seq(lit('"'), repeat(ref('DoubleStringChar'), 0)));

const RULES: Rules = {
  Input: { display: 'Input', body: choice(
    action(seq(OWS, lit('('), OWS, label(ref('OrExpression')), OWS, lit(')'), OWS, ref('EOF')), (v) => v[3]),
    action(seq(OWS, label(ref('OrExpression')), OWS, ref('EOF')), (v) => v[1])) },
  OrExpression: { display: 'OrExpression', body: choice<FilterAst>(
    action(seq(label(ref('AndExpression')), WS, lit('or'), WS, label(ref('OrExpression'))),
      (v) => ({ kind: 'binary', operator: 'or', left: v[0], right: v[4] })),
    action(label(ref('AndExpression')), (v) => v),
    action(label(ref('CollectionExpression')), (v) => v)) },
  AndExpression: { display: 'AndExpression', body: choice<FilterAst>(
    action(seq(label(ref('NotExpression')), WS, lit('and'), WS, label(ref('AndExpression'))),
      (v) => ({ kind: 'binary', operator: 'and', left: v[0], right: v[4] })),
    action(label(ref('NotExpression')), (v) => v)) },
  NotExpression: { display: 'NotExpression', body: choice<FilterAst>(
    action(seq(lit('not'), WS, label(ref('NotExpression'))),
      (v) => (v[2].kind === 'not' ? v[2].operand : { kind: 'not', operand: v[2] })),
    action(label(ref('ParenthesizedExpression')), (v) => v)) },
  CollectionExpression: { display: 'CollectionExpression', body: action(
    seq(label(choice<'any' | 'all'>(ref('CollectionOpAny'), ref('CollectionOpAll'))), label(SELECTOR), WS, lit('as'), WS,
      label(ref('CollectionIdentifiers')), OWS, lit('{'), OWS, label(ref('OrExpression')), OWS, lit('}')),
    (v) => ({ kind: 'collection', op: v[0], selector: v[1], binding: v[5], inner: v[9] })) },
  CollectionIdentifiers: { display: '"collection-identifiers"', body: choice(
    action(seq(label(IDENTIFIER), OWS, lit(','), OWS, label(IDENTIFIER)), (v) => binding('indexAndValue', { index: v[0], value: v[4] })),
    action(seq(label(IDENTIFIER), OWS, lit(','), OWS, lit('_')), (v) => binding('index', { index: v[0] })),
    action(seq(lit('_'), OWS, lit(','), OWS, label(IDENTIFIER)), (v) => binding('value', { value: v[4] })),
    action(label(IDENTIFIER), (v) => binding('default', { default: v }))) },
  CollectionOpAny: { display: 'CollectionOpAny', body: action(seq(lit('any'), WS), () => 'any' as const) },
  CollectionOpAll: { display: 'CollectionOpAll', body: action(seq(lit('all'), WS), () => 'all' as const) },
  ParenthesizedExpression: { display: '"grouping"', body: choice(
    action(seq(lit('('), OWS, label(ref('OrExpression')), OWS, lit(')')), (v) => v[2]),
    action(label(ref('MatchExpression')), (v): FilterAst => v),
    failing(seq(lit('('), OWS, ref('OrExpression'), OWS, lookahead(lit(')'), true), failWith('Unmatched parentheses')))) },
  MatchExpression: { display: '"match"', body: choice(ref('MatchSelectorOpValue'), ref('MatchSelectorOp'), ref('MatchValueOpSelector')) },
  MatchSelectorOpValue: { display: '"match"', body: action(
    seq(label(SELECTOR), label(choice(ref('MatchEqual'), ref('MatchNotEqual'), ref('MatchContains'), ref('MatchNotContains'),
      ref('MatchMatches'), ref('MatchNotMatches'))), label(ref('Value'))),
    (v) => match(v[0], v[1], v[2])) },
  MatchSelectorOp: { display: '"match"', body: action(
    seq(label(SELECTOR), label(choice(ref('MatchIsEmpty'), ref('MatchIsNotEmpty'), ref('MatchIsNil'), ref('MatchIsNotNil')))),
    (v) => match(v[0], v[1], null)) },
  MatchValueOpSelector: { display: '"match"', body: choice(
    action(seq(label(ref('Value')), label(IN_OPS), label(SELECTOR)), (v) => match(v[2], v[1], v[0])),
    failing(seq(ref('Value'), label(IN_OPS), lookahead(SELECTOR, true), failWith('Invalid selector')))) },
  MatchEqual: { display: 'MatchEqual', body: op('equal', ['=='], 'optional') },
  MatchNotEqual: { display: 'MatchNotEqual', body: op('notEqual', ['!='], 'optional') },
  MatchIsEmpty: { display: 'MatchIsEmpty', body: op('isEmpty', ['is', 'empty'], 'before') },
  MatchIsNotEmpty: { display: 'MatchIsNotEmpty', body: op('isNotEmpty', ['is', 'not', 'empty'], 'before') },
  MatchIn: { display: 'MatchIn', body: op('in', ['in'], 'around') },
  MatchNotIn: { display: 'MatchNotIn', body: op('notIn', ['not', 'in'], 'around') },
  MatchContains: { display: 'MatchContains', body: op('in', ['contains'], 'around') },
  MatchNotContains: { display: 'MatchNotContains', body: op('notIn', ['not', 'contains'], 'around') },
  MatchMatches: { display: 'MatchMatches', body: op('matches', ['matches'], 'around') },
  MatchNotMatches: { display: 'MatchNotMatches', body: op('notMatches', ['not', 'matches'], 'around') },
  MatchIsNil: { display: 'MatchIsNil', body: op('isNil', ['is', 'nil'], 'before') },
  MatchIsNotNil: { display: 'MatchIsNotNil', body: op('isNotNil', ['is', 'not', 'nil'], 'before') },
  Selector: { display: '"selector"', body: choice<Selector>(
    action(seq(label(IDENTIFIER), label(repeat(ref('SelectorOrIndex'), 0))), (v) => ({ type: 'bexpr', path: [v[0], ...v[1]] })),
    action(seq(lit('"'), label(repeat(ref('JsonPointerSegment'), 0)), lit('"')), (v) => ({ type: 'jsonPointer', path: pointerParts(v[1]) }))) },
  JsonPointerSegment: { display: 'JsonPointerSegment', body: action(
    seq(lit('/'), label(repeat(cls('[\\pL\\pN-_.~:|]', /[\p{L}\p{N}\-_.~:|]/u), 1))), (_v, c) => c.text.slice(1)) },
  Identifier: { display: 'Identifier', body: action(
    seq(cls('[a-zA-Z]', /[a-zA-Z]/), repeat(cls('[a-zA-Z0-9_/]', /[a-zA-Z0-9_/]/), 0)), (_v, c) => c.text) },
  SelectorOrIndex: { display: 'SelectorOrIndex', body: choice(
    action(seq(lit('.'), label(IDENTIFIER)), (v) => v[1]),
    action(label(ref('IndexExpression')), (v) => v),
    action(seq(lit('.'), label(DIGITS)), (_v, c) => c.text.slice(1))) },
  IndexExpression: { display: '"index"', body: choice(
    action(seq(lit('['), OWS, label(ref('StringLiteral')), OWS, lit(']')), (v) => v[2]),
    failing(seq(lit('['), OWS, lookahead(ref('StringLiteral'), true), failWith('Invalid index'))),
    failing(seq(lit('['), OWS, ref('StringLiteral'), OWS, lookahead(lit(']'), true), failWith('Unclosed index expression')))) },
  Value: { display: '"value"', body: choice(
    action(label(SELECTOR), (v) => selectorToString(v)),
    action(label(ref('NumberLiteral')), (v) => v),
    action(label(ref('StringLiteral')), (v) => v)) },
  NumberLiteral: { display: '"number"', body: choice(
    action(seq(opt(lit('-')), ref('IntegerOrFloat'), lookahead(ref('AfterNumbers'), false)), (_v, c) => c.text),
    failing(seq(opt(lit('-')), ref('IntegerOrFloat'), lookahead(ref('AfterNumbers'), true), failWith('Invalid number literal')))) },
  AfterNumbers: { display: 'AfterNumbers', body: lookahead(choice<unknown>(WS, ref('EOF'), lit(')')), false) },
  IntegerOrFloat: { display: 'IntegerOrFloat', body: seq(
    choice<unknown>(lit('0'), seq(cls('[1-9]', /[1-9]/), repeat(cls('[0-9]', /[0-9]/), 0))), opt(seq(lit('.'), DIGITS))) },
  StringLiteral: { display: '"string"', body: choice(
    action(choice<unknown>(seq(lit('`'), repeat(ref('RawStringChar'), 0), lit('`')),
      seq(lit('"'), repeat(ref('DoubleStringChar'), 0), lit('"'))), unquoteAction),
    failing(seq(STRING_START, ref('EOF'), failWith('Unterminated string literal')))) },
  RawStringChar: { display: 'RawStringChar', body: seq(lookahead(lit('`'), true), anyChar) },
  DoubleStringChar: { display: 'DoubleStringChar', body: seq(lookahead(lit('"'), true), anyChar) },
  _: { display: '"whitespace"', body: repeat(cls('[ \\t\\r\\n]', /[ \t\r\n]/), 1) },
  EOF: { display: 'EOF', body: lookahead(anyChar, true) },
};

/** pointerstructure's `Parse("/" + segments.join("/"))`: unescapes `~1` to `/` and `~0` to `~`. */
function pointerParts(segments: readonly string[]): string[] {
  return `/${segments.join('/')}`.slice(1).split('/').map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/**
 * Parses a go-bexpr filter expression.
 * @throws FilterSyntaxError with go-bexpr's exact message when the expression is invalid.
 */
export function parseFilter(expression: string): FilterAst {
  const result = runPeg(expression, (p) => runRule(p, 'Input'));
  if (!result.ok) throw new FilterSyntaxError(result.message);
  return result.value;
}
