import { describe, expect, it } from 'vitest';
import { encodeNomadJson, parseNomadJson, quoteUnsafeIntegers } from '../../../src/nomad/json.ts';

describe('quoteUnsafeIntegers', () => {
  it('should return the very same string when nothing needs quoting', () => {
    const text = '{"CreateIndex":10,"JobVersion":0,"Scores":{"a":0.6205732522109244}}';
    expect(quoteUnsafeIntegers(text)).toBe(text);
  });

  it('should quote integers beyond 2^53 and leave 2^53 - 1 alone', () => {
    expect(quoteUnsafeIntegers('[9007199254740991,9007199254740992,1636017249798459000]')).toBe(
      '[9007199254740991,"9007199254740992","1636017249798459000"]',
    );
  });

  it('should quote negative unsafe integers with their sign', () => {
    expect(quoteUnsafeIntegers('{"a":-12345678901234567890,"b":-9007199254740991}')).toBe(
      '{"a":"-12345678901234567890","b":-9007199254740991}',
    );
  });

  it('should leave big digit runs inside strings untouched', () => {
    const text = '{"ID":"12345678901234567890","Msg":"at 1636017249798459000 ns"}';
    expect(quoteUnsafeIntegers(text)).toBe(text);
  });

  it('should see through escaped quotes and escaped backslashes in strings', () => {
    const escapedQuote = '["say \\"12345678901234567890\\" twice",12345678901234567890]';
    expect(quoteUnsafeIntegers(escapedQuote)).toBe('["say \\"12345678901234567890\\" twice","12345678901234567890"]');
    const escapedBackslash = '["C:\\\\",12345678901234567890]';
    expect(quoteUnsafeIntegers(escapedBackslash)).toBe('["C:\\\\","12345678901234567890"]');
  });

  it('should leave floats and exponents with a long integer part untouched', () => {
    const text = '[12345678901234567890.5,12345678901234567890e2,12345678901234567890E-2]';
    expect(quoteUnsafeIntegers(text)).toBe(text);
  });

  it('should keep whitespace and pretty-printed layouts intact', () => {
    expect(quoteUnsafeIntegers('{\n    "Time": 1636017249803624000\n}\n')).toBe('{\n    "Time": "1636017249803624000"\n}\n');
  });

  // Go prints float64 with up to 17 significant digits (e.g. a bin-pack score of
  // 0.10000000000000002): the fraction's digits must not be mistaken for an integer.
  it('should leave a float with a 17-digit fraction intact', () => {
    const text = '{"Scores":{"node.binpack":0.10000000000000002}}';
    expect(quoteUnsafeIntegers(text)).toBe(text);
  });

  it('should leave a long exponent intact', () => {
    const text = '[1e-12345678901234567]';
    expect(quoteUnsafeIntegers(text)).toBe(text);
  });
});

describe('parseNomadJson', () => {
  it('should return safe integers as numbers and unsafe ones as digit strings', () => {
    expect(parseNomadJson('{"CreateIndex":10,"CreateTime":1636017249798459000,"Neg":-9007199254740993}')).toStrictEqual({
      CreateIndex: 10,
      CreateTime: '1636017249798459000',
      Neg: '-9007199254740993',
    });
  });

  it('should parse floats as JSON.parse does', () => {
    expect(parseNomadJson('[0.6205732522109244,1e3,-2.5E-3,12345678901234567890.5]')).toStrictEqual([
      0.6205732522109244, 1000, -0.0025, 12345678901234567890.5,
    ]);
  });

  it('should keep the last of duplicated keys, like JSON.parse', () => {
    expect(parseNomadJson('{"PreviousAllocation":"a","PreviousAllocation":""}')).toStrictEqual({ PreviousAllocation: '' });
  });

  it('should throw SyntaxError on malformed input', () => {
    expect(() => parseNomadJson('{"a":')).toThrow(SyntaxError);
    expect(() => parseNomadJson('')).toThrow(SyntaxError);
  });
});

describe('encodeNomadJson', () => {
  it('should sort object keys and leave undefined members out', () => {
    expect(encodeNomadJson({ b: 1, a: { d: true, c: null }, skipped: undefined })).toBe('{"a":{"c":null,"d":true},"b":1}');
  });

  it('should write bigint as a bare integer that parseNomadJson reads back exactly', () => {
    const text = encodeNomadJson({ ModifyIndex: 18446744073709551615n, Small: 5n });
    expect(text).toBe('{"ModifyIndex":18446744073709551615,"Small":5}');
    expect(parseNomadJson(text)).toStrictEqual({ ModifyIndex: '18446744073709551615', Small: 5 });
  });

  it('should not escape HTML characters', () => {
    expect(encodeNomadJson({ Msg: '<a & b>' })).toBe('{"Msg":"<a & b>"}');
  });

  it('should keep empty arrays and objects compact and encode non-finite numbers as null', () => {
    expect(encodeNomadJson({ a: [], b: {}, c: Number.NaN }, { pretty: true })).toBe(
      '{\n    "a": [],\n    "b": {},\n    "c": null\n}\n',
    );
  });

  it('should indent by four spaces and end with a newline when pretty', () => {
    expect(encodeNomadJson([{ b: [1, 2], a: 'x' }], { pretty: true })).toBe(
      '[\n    {\n        "a": "x",\n        "b": [\n            1,\n            2\n        ]\n    }\n]\n',
    );
  });
});
