import { ErrorCode, gatewayError } from '../error-codes.ts';
import { combineFilters, UnbalancedFilterError } from '../filters/where.ts';

// The arguments that select allocations (`prefix`, `filter`, `where`), checked once for the
// `allocations` query and the `allocationChanges` subscription alike.

/** Nomad's prefix rule (hex, even length without hyphens), checked here so a typo is not a 500. */
export function checkPrefix(prefix: string): void {
  const hex = prefix.replaceAll('-', '');
  if (!/^[0-9a-fA-F]*$/.test(hex) || hex.length % 2 !== 0 || prefix.length > 36) {
    throw gatewayError(
      ErrorCode.BAD_USER_INPUT,
      `Invalid prefix "${prefix}": Nomad takes hex digits (hyphens allowed), an even number of them, at most 36 characters`,
    );
  }
}

/** The raw filter and the compiled `where`, refusing a raw filter that could escape its parentheses. */
export function filterFor(raw: string | undefined, where: string | undefined): string | undefined {
  try {
    return combineFilters(raw, where);
  } catch (error) {
    if (error instanceof UnbalancedFilterError) {
      throw gatewayError(ErrorCode.BAD_USER_INPUT, `Invalid filter: ${error.message}`, { field: 'filter' });
    }
    throw error;
  }
}

