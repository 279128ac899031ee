/**
 * A filter expression that go-bexpr's parser rejects. `message` is exactly the text go-bexpr
 * (its pigeon parser) produces, e.g. `1:9 (8): no match found, expected: ...`, without any prefix.
 */
export class FilterSyntaxError extends Error {
  override readonly name = 'FilterSyntaxError';
}

/**
 * A filter that parsed but cannot be evaluated against a datum (unknown struct field, missing
 * map key in the middle of a path, unconvertible literal, ...). `message` is go-bexpr's text,
 * e.g. `error finding value in datum: /InvalidField at part 0: couldn't find key: ...`.
 */
export class FilterEvaluationError extends Error {
  override readonly name = 'FilterEvaluationError';
}
