/**
 * Whether the reference engine would refuse an operation's variables. The engines that stand in
 * for it on the happy path (`compiled-execution.ts`, `shared-subscription-events.ts`) hand such an
 * operation back to it, so the refusal comes in its words (codes, messages, `locations`).
 */
import type { ExecutionArgs, OperationDefinitionNode } from 'graphql';
import { getVariableValues } from 'graphql/execution/values.js';

export function refusesVariables(args: Pick<ExecutionArgs, 'schema' | 'variableValues'>, operation: OperationDefinitionNode): boolean {
  const definitions = operation.variableDefinitions ?? [];
  if (definitions.length === 0) return false;
  return getVariableValues(args.schema, definitions, args.variableValues ?? {}, { maxErrors: 50 }).errors !== undefined;
}
