/**
 * The syntax tree of a go-bexpr (v0.1.16) filter expression, as built by `parseFilter`.
 * It mirrors go-bexpr's `grammar` package: `contains` is stored as `in`, `not contains` as `notIn`.
 */

/** `bexpr` for `a.b["c"]` selectors, `jsonPointer` for quoted `"/a/b"` selectors. */
export type SelectorType = 'bexpr' | 'jsonPointer';

/** A path into the datum; each element is one struct field name, map key or slice index. */
export interface Selector {
  readonly type: SelectorType;
  readonly path: readonly string[];
}

/** The match operators; `contains`/`not contains` parse to `in`/`notIn`. */
export type MatchOperator =
  | 'equal'
  | 'notEqual'
  | 'in'
  | 'notIn'
  | 'isEmpty'
  | 'isNotEmpty'
  | 'matches'
  | 'notMatches'
  | 'isNil'
  | 'isNotNil';

/** `Sel op value`, `value in Sel` or `Sel is empty`; `value` is the raw literal text (null when none). */
export interface MatchExpression {
  readonly kind: 'match';
  readonly selector: Selector;
  readonly operator: MatchOperator;
  readonly value: string | null;
}

/** `not expr`. */
export interface NotExpression {
  readonly kind: 'not';
  readonly operand: FilterAst;
}

/** `left and right` / `left or right`. */
export interface BinaryExpression {
  readonly kind: 'binary';
  readonly operator: 'and' | 'or';
  readonly left: FilterAst;
  readonly right: FilterAst;
}

/** Which names an `as ...` clause binds (go-bexpr `CollectionBindMode`). */
export type CollectionBindMode = 'default' | 'index' | 'value' | 'indexAndValue';

/** The names bound by `as k, v` / `as k, _` / `as _, v` / `as x`; unused names are ''. */
export interface CollectionBinding {
  readonly mode: CollectionBindMode;
  readonly default: string;
  readonly index: string;
  readonly value: string;
}

/** `any Sel as ... { inner }` / `all Sel as ... { inner }`. */
export interface CollectionExpression {
  readonly kind: 'collection';
  readonly op: 'any' | 'all';
  readonly selector: Selector;
  readonly binding: CollectionBinding;
  readonly inner: FilterAst;
}

/** A parsed filter expression. */
export type FilterAst = MatchExpression | NotExpression | BinaryExpression | CollectionExpression;

/** go-bexpr's `Selector.String()`: path joined with `.` (bexpr form) or `/` (JSON pointer form). */
export function selectorToString(selector: Selector): string {
  return selector.path.join(selector.type === 'bexpr' ? '.' : '/');
}

/** pointerstructure's `Pointer.String()`: `/a/b`, with `~` and `/` escaped as `~0` and `~1`. */
export function pointerToString(path: readonly string[]): string {
  if (path.length === 0) return '';
  return `/${path.map((part) => part.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`;
}
