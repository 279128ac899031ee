/**
 * Which fields a query selects below the field being resolved, read from the operation's AST, so a
 * resolver can skip upstream work nobody asked for (e.g. `task_states=false` when no task state is
 * selected). Type conditions of fragments are not checked (that would need the schema), so a field in
 * `... on X` counts as selected whatever the runtime type: the answer may over-approximate, never under.
 */
import type { FieldNode, FragmentDefinitionNode, FragmentSpreadNode, GraphQLResolveInfo, InlineFragmentNode, SelectionSetNode } from 'graphql';
import { getDirectiveValues, GraphQLIncludeDirective, GraphQLSkipDirective, Kind } from 'graphql';

type Variables = GraphQLResolveInfo['variableValues'];
type Fragments = GraphQLResolveInfo['fragments'];

/** graphql-js's `shouldIncludeNode`: `@skip(if: true)` drops a node, `@include(if: false)` too. */
function isIncluded(node: FieldNode | FragmentSpreadNode | InlineFragmentNode, variables: Variables): boolean {
  if (getDirectiveValues(GraphQLSkipDirective, node, variables)?.['if'] === true) return false;
  return getDirectiveValues(GraphQLIncludeDirective, node, variables)?.['if'] !== false;
}

/** The included field nodes of `selectionSets`, with fragment spreads and inline fragments flattened. */
function collectFields(selectionSets: readonly SelectionSetNode[], fragments: Fragments, variables: Variables): FieldNode[] {
  const fields: FieldNode[] = [];
  const spread = new Set<string>();
  const visit = (selectionSet: SelectionSetNode): void => {
    for (const selection of selectionSet.selections) {
      if (!isIncluded(selection, variables)) continue;
      if (selection.kind === Kind.FIELD) {
        fields.push(selection);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        visit(selection.selectionSet);
      } else if (!spread.has(selection.name.value)) {
        spread.add(selection.name.value);
        const fragment: FragmentDefinitionNode | undefined = fragments[selection.name.value];
        if (fragment !== undefined) visit(fragment.selectionSet);
      }
    }
  };
  selectionSets.forEach(visit);
  return fields;
}

/** The sub-selections of `fields` (leaf fields have none). */
function selectionSetsOf(fields: readonly FieldNode[]): SelectionSetNode[] {
  return fields.flatMap((field) => (field.selectionSet === undefined ? [] : [field.selectionSet]));
}

/**
 * The names (not aliases) of the fields selected at `path` below the field being resolved, across
 * all of `info.fieldNodes`, following named and inline fragments and honouring `@skip`/`@include`
 * (literal or variable `if:`). `path` names fields, e.g. `['edges', 'node']` on a connection; an empty
 * path gives the fields selected directly on the current field. Unselected paths give an empty set.
 */
export function selectedFields(info: GraphQLResolveInfo, path: readonly string[]): Set<string> {
  const { fragments, variableValues } = info;
  let selectionSets = selectionSetsOf(info.fieldNodes);
  for (const name of path) {
    const fields = collectFields(selectionSets, fragments, variableValues);
    selectionSets = selectionSetsOf(fields.filter((field) => field.name.value === name));
  }
  return new Set(collectFields(selectionSets, fragments, variableValues).map((field) => field.name.value));
}

/**
 * Whether the field at `path` below the field being resolved is selected anywhere, e.g.
 * `isSelected(info, ['pageInfo', 'hasPreviousPage'])`. The empty path (the current field) is always selected.
 */
export function isSelected(info: GraphQLResolveInfo, path: readonly string[]): boolean {
  const name = path.at(-1);
  return name === undefined || selectedFields(info, path.slice(0, -1)).has(name);
}
