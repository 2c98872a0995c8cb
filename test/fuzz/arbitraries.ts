/**
 * Hostile input for the fuzz suites (issue 14), and the checks every fuzz property shares.
 *
 * Everything is generated as JSON *text*, not as values: text can hold what no JavaScript value
 * would survive being written from (own `__proto__` keys, duplicated keys, `1e400`, `-0`, nesting
 * 100,000 levels deep that `JSON.stringify` would overflow on in this very process), and what is
 * not JSON at all. Deep and long inputs are small descriptors (`{ depth, shape, where }`) rendered
 * when sent, so a counterexample prints in a line.
 */
import fc from 'fast-check';
import type { ActorRecord } from 'statehub';

// ---------------------------------------------------------------------------------------------
// Reproducibility
// ---------------------------------------------------------------------------------------------

/** Seed of every property (FUZZ_SEED overrides it): a failure comes back with the same inputs. */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 14);
/** Multiplies every numRuns (FUZZ_SCALE=10 for a long night run). */
const FUZZ_SCALE = Number(process.env.FUZZ_SCALE ?? 1);

/**
 * fast-check parameters: a fixed seed per property (FUZZ_SEED mixed with the property's `name`, so
 * that properties over the same arbitrary do not all try the same inputs), `numRuns` scaled, and a
 * bound on the whole property's time, shrinking included. The seed is printed with any failure.
 */
export function fuzzParameters<T>(name: string, numRuns: number, timeLimitMs = 25_000): fc.Parameters<T> {
  let salt = 0;
  for (const char of name) salt = (Math.imul(salt, 31) + char.charCodeAt(0)) | 0;
  return {
    seed: (FUZZ_SEED ^ salt) | 0,
    numRuns: Math.max(1, Math.round(numRuns * FUZZ_SCALE)),
    // Past the limit no new input is tried; a failure found is still shrunk (within the same limit) and reported.
    interruptAfterTimeLimit: timeLimitMs * FUZZ_SCALE,
    markInterruptAsFailure: false,
  };
}

// ---------------------------------------------------------------------------------------------
// Leaves: strings, numbers, keys
// ---------------------------------------------------------------------------------------------

/** Code points a parser, a regex or an encoder may trip on. */
const codePoint = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0x21, max: 0x7e }) },
  { weight: 2, arbitrary: fc.integer({ min: 0x00, max: 0x20 }) }, // control characters, space
  { weight: 2, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }) }, // lone surrogates
  { weight: 1, arbitrary: fc.constantFrom(0x7f, 0x85, 0xa0, 0xad, 0x200b, 0x200e, 0x202e, 0x2028, 0x2029, 0xfeff, 0xfffd, 0xfffe, 0xffff) },
  { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0x10ffff }) },
);

/** Strings with control characters, lone surrogates, bidi marks, astral characters. */
export const nastyString = fc.array(codePoint, { maxLength: 20 }).map((points) => String.fromCodePoint(...points));

/** Keys that mean something to JavaScript, to a parser, or to the hub. */
export const NASTY_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
  'then',
  'toJSON',
  'length',
  '0',
  '-1',
  '',
  ' ',
  '\u0000',
  '\ud800',
  '$ref',
  'a.b',
  'a[0]',
  'type',
  'payload',
  'jobId',
  'attempt',
  'snapshot',
  'status',
  'value',
  'context',
] as const;

/** Keys a strict JSON parser refuses outright (prototype poisoning): used sparingly, or nothing else would get past the parser. */
const POISON_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** A key as JSON text, `__proto__` and `constructor` included. */
export const keyText = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NASTY_KEYS) },
  { weight: 2, arbitrary: fc.stringMatching(/^[a-z]{1,6}$/) },
  { weight: 1, arbitrary: nastyString },
).map((key) => JSON.stringify(key));

/** A key as JSON text, odd but not one a parser refuses (no `__proto__`, `constructor`, `prototype`). */
export const plainKeyText = fc
  .oneof(
    { weight: 2, arbitrary: fc.constantFrom(...NASTY_KEYS.filter((key) => !POISON_KEYS.has(key))) },
    { weight: 3, arbitrary: fc.stringMatching(/^[a-z]{1,6}$/) },
    { weight: 1, arbitrary: nastyString.filter((key) => !POISON_KEYS.has(key)) },
  )
  .map((key) => JSON.stringify(key));

/** Numbers as JSON text: huge, tiny, negative zero, past 2^53, past a double (`1e309` parses to Infinity). */
export const numberText = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '0',
      '-0',
      '-0.0',
      '0e0',
      '1',
      '-1',
      '0.5',
      '1e3',
      '1E+3',
      '1e308',
      '-1e308',
      '1.7976931348623157e308',
      '1e309',
      '-1e309',
      '1e400',
      '5e-324',
      '1e-400',
      '9007199254740991',
      '9007199254740993',
      '-9007199254740993',
      '123456789012345678901234567890',
      '2147483647',
      '2147483648',
      '4294967296',
      '1000000',
      '1000001',
      '-1000001',
      '300000',
      '300001',
    ),
  },
  { weight: 2, arbitrary: fc.integer().map(String) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)) },
  { weight: 1, arbitrary: fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }).map(String) },
);

/** A JSON leaf as text. */
export const leafText = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom('null', 'true', 'false') },
  { weight: 2, arbitrary: numberText },
  { weight: 2, arbitrary: nastyString.map((text) => JSON.stringify(text)) },
  { weight: 1, arbitrary: fc.constantFrom(...NASTY_KEYS).map((text) => JSON.stringify(text)) },
);

/** `{k: v, ...}` from entries given as text (duplicated keys allowed). */
export const objectOf = (entries: Array<[string, string]>) => `{${entries.map(([key, value]) => `${key}:${value}`).join(',')}}`;
export const arrayOf = (items: string[]) => `[${items.join(',')}]`;

/** JSON values as text, a few levels deep, with keys from `keys` and nasty leaves. */
const jsonTextWith = (keys: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
    value: fc.oneof({ depthSize: 'small', maxDepth: 5, withCrossShrink: true }, leafText, tie('array'), tie('object')),
    array: fc.array(tie('value'), { maxLength: 5 }).map(arrayOf),
    object: fc.array(fc.tuple(keys, tie('value')), { maxLength: 5 }).map(objectOf),
  })).value;

/** Any JSON value as text, with nasty keys (`__proto__`, `constructor`, duplicates...) and leaves. */
export const valueText: fc.Arbitrary<string> = jsonTextWith(keyText);

/** Any JSON value as text that a strict parser takes (odd keys and leaves, no prototype poisoning). */
export const plainValueText: fc.Arbitrary<string> = jsonTextWith(plainKeyText);

/** An object as text whose keys are nasty (own `__proto__`, `constructor`, duplicates...). */
export const objectText = fc.array(fc.tuple(keyText, valueText), { maxLength: 6 }).map(objectOf);

// ---------------------------------------------------------------------------------------------
// Deep and long values
// ---------------------------------------------------------------------------------------------

export type DeepShape = 'array' | 'object' | 'mixed' | 'proto' | 'constructor';

/**
 * Nesting depths: mostly where recursion starts to fail (a few thousand levels), some near the
 * bounds a hub might pick (64, 100...), some far past. Every range starts at 1, so a failure
 * shrinks to the smallest depth that fails.
 */
export const depth = fc.oneof(
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 300 }) },
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 6_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 100_000 }) },
);

export const deepShape = fc.constantFrom<DeepShape>('array', 'object', 'mixed', 'proto', 'constructor');

/** A value nested `levels` deep as text, `leaf` innermost. */
export function deepText(levels: number, shape: DeepShape, leaf = '1'): string {
  const opens: Record<DeepShape, [string, string] | [string, string, string, string]> = {
    array: ['[', ']'],
    object: ['{"a":', '}'],
    mixed: ['[', ']', '{"k":', '}'],
    proto: ['{"__proto__":', '}'],
    constructor: ['{"constructor":', '}', '{"prototype":', '}'],
  };
  const [open, close, open2 = open, close2 = close] = opens[shape];
  const head: string[] = [];
  const tail: string[] = [];
  for (let level = 0; level < levels; level++) {
    head.push(level % 2 === 0 ? open : open2);
    tail.push(level % 2 === 0 ? close : close2);
  }
  return head.join('') + leaf + tail.reverse().join('');
}

/** A long string: `length` times `unit`, a JSON-escaped piece. */
export interface LongString {
  length: number;
  unit: 'x' | 'é' | '\\u0000' | '\\ud800' | '😀' | '\\"' | '\\n';
}

export const longString = (maxBytes: number): fc.Arbitrary<LongString> =>
  fc
    .record({
      unit: fc.constantFrom<LongString['unit']>('x', 'é', '\\u0000', '\\ud800', '😀', '\\"', '\\n'),
      fraction: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0.999, 1)),
    })
    .map(({ unit, fraction }) => ({ unit, length: Math.max(1, Math.floor((fraction * maxBytes) / Buffer.byteLength(unit))) }));

export const longStringText = ({ length, unit }: LongString) => `"${unit.repeat(length)}"`;

// ---------------------------------------------------------------------------------------------
// HTTP: bodies, content types, path segments, query strings
// ---------------------------------------------------------------------------------------------

/** Types the fuzzer never submits: the workload's worker serves them. */
export const RESERVED_TYPES = new Set(['fz-sim']);

/** Job types as JSON text: valid ones (some at the 200-character bound), and not. */
export const typeText = fc
  .oneof(
    { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,20}$/).map((type) => JSON.stringify(type)) },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom('a', 'fz-garbage', 'A.b:c/d-e_f', 'x'.repeat(200), 'x'.repeat(201), '', ' ', '-a', '.a', 'a b', 'a\u0000', 'é', 'a\ud800', '__proto__', 'constructor', 'a\n')
        .map((type) => JSON.stringify(type)),
    },
    { weight: 1, arbitrary: valueText },
  )
  .filter((text) => !RESERVED_TYPES.has(safeParse(text) as string));

/** A field value: sometimes right, mostly an odd number, sometimes anything at all. */
const intFieldText = (valid: fc.Arbitrary<number>) =>
  fc.oneof({ weight: 3, arbitrary: valid.map(String) }, { weight: 3, arbitrary: numberText }, { weight: 1, arbitrary: valueText });

/** Requirements as text: nested arrays, objects, nasty keys, wrong types. */
export const requirementsText = fc.oneof(
  { weight: 3, arbitrary: fc.array(fc.tuple(keyText, valueText), { maxLength: 4 }).map(objectOf) },
  { weight: 1, arbitrary: fc.constantFrom('{"gpu":[[1]]}', '{"models":[["a"],["b",[]]]}', '{"a":{"b":[1,{"c":[]}]}}', '{"__proto__":{"gpu":1}}', '{"":1}', '[]', '[[1]]', '"gpu"', '1', 'null') },
  { weight: 1, arbitrary: valueText },
);

/** A well-formed job submission, as its entries (key text, value text): odd values where the schema allows them. */
const wellFormedSubmission: fc.Arbitrary<Array<[string, string]>> = fc
  .record(
    {
      type: fc.oneof(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,20}$/), fc.constant('x'.repeat(200))).filter((type) => !RESERVED_TYPES.has(type)).map((type) => JSON.stringify(type)),
      payload: plainValueText,
      priority: fc.oneof(fc.integer({ min: -1_000_000, max: 1_000_000 }), fc.constantFrom(-1_000_000, 1_000_000, 0)).map(String),
      requirements: fc.array(fc.tuple(plainKeyText.filter((key) => key !== '""'), plainValueText), { maxLength: 3 }).map(objectOf),
      maxAttempts: fc.oneof(fc.integer({ min: 1, max: 1_000 }), fc.constantFrom(1, 1_000)).map(String),
      timeoutMs: fc.oneof(fc.integer({ min: 1, max: 2_147_483_646 }).map(String), fc.constant('null')),
      backoffMs: fc.oneof(fc.integer({ min: 0, max: 300_000 }), fc.constantFrom(0, 300_000)).map(String),
    },
    { requiredKeys: ['type'] },
  )
  .map((fields) => Object.entries(fields).map(([key, value]): [string, string] => [JSON.stringify(key), value as string]));

/** One thing wrong with a submission. */
type Twist = { replace: string } | { add: [string, string] } | { drop: true } | { duplicate: string };
const twist: fc.Arbitrary<Twist> = fc.oneof(
  fc.record({ replace: fc.oneof(valueText, numberText, typeText) }),
  fc.record({ add: fc.tuple(keyText, valueText) }),
  fc.record({ drop: fc.constant(true as const) }),
  fc.record({ duplicate: fc.oneof(valueText, numberText) }),
);

function applyTwist(entries: Array<[string, string]>, at: number, change: Twist): Array<[string, string]> {
  const index = at % entries.length;
  const copy = [...entries];
  const [key] = copy[index] as [string, string];
  if ('replace' in change) copy[index] = [key, change.replace];
  else if ('add' in change) copy.push(change.add);
  else if ('drop' in change) copy.splice(index, 1);
  else copy.push([key, change.duplicate]);
  return copy;
}

/** Anything shaped like a submission, every field odd or not, nasty keys anywhere. */
const wildSubmission: fc.Arbitrary<string> = fc
  .record(
    {
      type: typeText,
      payload: fc.oneof(valueText, objectText),
      priority: intFieldText(fc.integer({ min: -1_000_000, max: 1_000_000 })),
      requirements: requirementsText,
      maxAttempts: intFieldText(fc.integer({ min: 1, max: 1_000 })),
      timeoutMs: fc.oneof(intFieldText(fc.integer({ min: 1, max: 2_147_483_646 })), fc.constant('null')),
      backoffMs: intFieldText(fc.integer({ min: 0, max: 300_000 })),
      extra: fc.array(fc.tuple(keyText, valueText), { maxLength: 2 }),
    },
    { requiredKeys: [] },
  )
  .map(({ extra = [], ...fields }) =>
    objectOf([...Object.entries(fields).map(([key, value]): [string, string] => [JSON.stringify(key), value as string]), ...extra]),
  );

/**
 * A job submission as JSON text: well-formed with odd values (accepted: 201), well-formed with one
 * thing wrong (a field's value, an extra or nasty key, a field dropped or given twice), or wild.
 */
export const submissionText: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: wellFormedSubmission.map(objectOf) },
  { weight: 4, arbitrary: fc.tuple(wellFormedSubmission, fc.nat(), twist).map(([entries, at, change]) => objectOf(applyTwist(entries, at, change))) },
  { weight: 2, arbitrary: wildSubmission },
);

/** A batch as JSON text. */
export const batchText: fc.Arbitrary<string> = fc.oneof(
  { weight: 12, arbitrary: fc.array(submissionText, { minLength: 0, maxLength: 6 }).map((jobs) => `{"jobs":${arrayOf(jobs)}}`) },
  { weight: 1, arbitrary: fc.constantFrom(1_001, 1_001, 1_001, 1_000).map((count) => `{"jobs":${arrayOf(Array.from({ length: count }, () => '{"type":"fz-many"}'))}}`) },
  { weight: 1, arbitrary: fc.tuple(valueText, objectText).map(([jobs, rest]) => `{"jobs":${jobs}${rest === '{}' ? '' : `,${rest.slice(1, -1)}`}}`) },
  { weight: 1, arbitrary: valueText },
);

/** Text that is not JSON, or JSON a strict parser should refuse, or JSON only just. */
export const malformedText = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      '\ufeff{"type":"a"}',
      '{"type":"a"}{"type":"b"}',
      '{"type":"a",}',
      "{'type':'a'}",
      '{type:"a"}',
      '{"type":"a" /* c */}',
      '{"type":"a","payload":NaN}',
      '{"type":"a","payload":Infinity}',
      '{"type":"a","payload":undefined}',
      '{"type":"a","payload":0x10}',
      '{"type":"a","payload":01}',
      '{"type":"a","payload":.5}',
      '{"type":"a","payload":"\t"}',
      '{"type":"a","payload":"\u0000"}',
      '{"type":"a","payload":"\\x41"}',
      '{"type":"a","payload":"\\u12"}',
      '{"type":"a","payload":"\\ud800"}',
      '{"type":"a","payload":"\\udc00\\ud800"}',
      '{"type":"a"',
      '{"type":',
      '[',
      ']',
      '}',
      'null',
      'true',
      '0',
      '"a"',
      '[]',
      '{}',
      '{"__proto__":{"type":"a"}}',
      '{"type":"a","constructor":{"prototype":{"polluted":1}}}',
      '{"type":"a","payload":{"__proto__":{"polluted":1}}}',
      '{"type":"a","payload":{"constructor":{"prototype":{"polluted":1}}}}',
      '{"type":"a","type":"b"}',
      '{"type":"a","payload":1,"payload":{"x":1}}',
    ),
  },
  // A valid submission cut short, or with a character dropped in.
  { weight: 2, arbitrary: fc.tuple(submissionText, fc.nat()).map(([text, cut]) => text.slice(0, cut % Math.max(1, text.length))) },
  { weight: 2, arbitrary: fc.tuple(submissionText, fc.nat(), fc.constantFrom('"', '{', '}', '[', ']', ',', ':', '\\', '\u0000', '\n', 'x')).map(([text, at, char]) => text.slice(0, at % (text.length + 1)) + char + text.slice(at % (text.length + 1))) },
);

/** Bytes that are not UTF-8 inside an otherwise well-formed submission. */
export const invalidUtf8Body = fc
  .uint8Array({ minLength: 1, maxLength: 16 })
  .map((bytes) => Buffer.concat([Buffer.from('{"type":"fz-bytes","payload":"'), Buffer.from(bytes.map((byte) => (byte === 0x22 || byte === 0x5c ? 0xff : byte))), Buffer.from('"}')]));

/** Content-Type headers: JSON spelled every way, and everything else (undefined: no header). */
export const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      'application/json;charset=UTF-8',
      'application/json; charset=latin1',
      'application/json; charset=utf-16',
      'application/json; foo=bar',
      'application/json ; charset=utf-8',
      'application/json; charset="utf-8"',
      'application/json; charset=',
      'application/json, text/plain',
      'application/jsonx',
      'application/vnd.api+json',
      'application/ld+json',
      'text/json',
      'text/plain',
      'text/plain; charset=utf-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/octet-stream',
      '*/*',
      '',
      ';',
      'application/',
    ),
  },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

/** Percent-encodes every UTF-16 unit sequence as UTF-8 (lone surrogates as the 3 bytes WTF-8 gives them), keeping unreserved characters. */
export function percentEncode(text: string): string {
  let out = '';
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    const next = text.charCodeAt(index + 1);
    let point = unit;
    if (unit >= 0xd800 && unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      point = 0x10000 + ((unit - 0xd800) << 10) + (next - 0xdc00);
      index++;
    }
    if (point < 0x80 && /[A-Za-z0-9\-._~]/.test(String.fromCharCode(point))) {
      out += String.fromCharCode(point);
      continue;
    }
    const bytes =
      point < 0x80
        ? [point]
        : point < 0x800
          ? [0xc0 | (point >> 6), 0x80 | (point & 63)]
          : point < 0x10000
            ? [0xe0 | (point >> 12), 0x80 | ((point >> 6) & 63), 0x80 | (point & 63)]
            : [0xf0 | (point >> 18), 0x80 | ((point >> 12) & 63), 0x80 | ((point >> 6) & 63), 0x80 | (point & 63)];
    out += bytes.map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join('');
  }
  return out;
}

/** Characters of a valid actor id (`idSchema`: printable, no spaces, BMP code units). */
const idUnit = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0x21, max: 0x7e }) },
  { weight: 1, arbitrary: fc.integer({ min: 0xa0, max: 0xd7ff }) },
  { weight: 1, arbitrary: fc.integer({ min: 0xe000, max: 0xffff }) },
);

/** A valid actor id (1 to 200 characters, as `idSchema` says): mixed short ones, and one character repeated up to the bound (shrinks to the shortest that fails). */
export const validIdText = fc.oneof(
  { weight: 3, arbitrary: fc.array(idUnit, { minLength: 1, maxLength: 24 }).map((units) => String.fromCharCode(...units)) },
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 1, max: 200 }), idUnit).map(([length, unit]) => String.fromCharCode(unit).repeat(length)) },
);

/** A path segment as it goes on the wire (already encoded), valid as an id or not. */
export const pathSegment = (knownIds: readonly string[]) =>
  fc.oneof(
    ...(knownIds.length > 0 ? [{ weight: 2, arbitrary: fc.constantFrom(...knownIds).map(percentEncode) }] : []),
    { weight: 4, arbitrary: validIdText.map(percentEncode) },
    { weight: 2, arbitrary: nastyString.filter((text) => text.length > 0).map(percentEncode) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          fc.stringMatching(/^[a-z]{0,4}$/),
          fc.constantFrom('%', '%Z', '%ZZ', '%E0%A4%A', '%C0%AF', '%ED%A0%80', '%FF', '%00', '%0A', '%20', '%2F', '%2f', '%25', '%5C', '%3F', '%23', '..', '.', '%2e%2e', ';', '!', "'", '(', ')', '*', '$', '&', '+', ',', '=', '@', ':', '"', '<', '>', '|', '^', '`', '{', '}', '[', ']', '\\'),
          fc.stringMatching(/^[a-z]{0,4}$/),
        )
        .map(([before, odd, after]) => before + odd + after),
    },
    { weight: 1, arbitrary: fc.integer({ min: 200, max: 12_000 }).map((length) => 'x'.repeat(length)) },
  );

const KIND_WORDS = ['job', 'worker', 'machine', 'connector', 'probe', 'jobs', 'JOB', '', '%20job', '+job', '%00', '__proto__', 'constructor', '%E0%A4%A'];

/** A long comma-separated list in a query value, kept as its length so a counterexample prints short. */
export interface LongList {
  items: number;
}

export type QueryValue = string | LongList | null;

/** One `key=value` of a query string, raw (already encoded, or deliberately not); a null value: the key alone. */
export const queryPair = (offsets: readonly string[]): fc.Arbitrary<[string, QueryValue]> =>
  fc.tuple(
    fc.constantFrom('kinds', 'kinds', 'since', 'since', 'ids', 'ids', 'token', 'kinds[]', 'kinds[0]', '__proto__', 'constructor', 'hasOwnProperty', '', 'x', '%ZZ', '%00', 'KINDS'),
    fc.oneof(
      fc.array(fc.constantFrom(...KIND_WORDS), { maxLength: 6 }).map((words) => words.join(',')),
      fc.constantFrom(...offsets, '0', '0-0', '-1', '99999999999999999999-0', '1-99999999999999999999', 'abc', '%00', 'x'.repeat(201), '9'.repeat(200), '', '%ED%A0%80', '%'),
      fc.array(validIdText.map(percentEncode), { minLength: 1, maxLength: 5 }).map((ids) => ids.join(',')),
      fc.integer({ min: 1, max: 400 }).map((items): LongList => ({ items })), // five of them stay under 16 KiB: past it is its own property
      nastyString.map(percentEncode),
      fc.constant(null),
    ),
  );

/** `i0,i1,...` for a long list. */
export const renderQueryValue = (value: QueryValue): string | null =>
  value !== null && typeof value === 'object' ? Array.from({ length: value.items }, (_, index) => `i${index}`).join(',') : value;

/** A query string, raw, `?` included (or empty). */
export const queryString = (offsets: readonly string[]) =>
  fc.oneof(
    { weight: 1, arbitrary: fc.constant('') },
    {
      weight: 6,
      arbitrary: fc
        .tuple(fc.array(queryPair(offsets), { minLength: 1, maxLength: 5 }), fc.constantFrom('&', '&', '&&', ';'))
        .map(([pairs, separator]) => ({ pairs, separator })),
    },
    { weight: 1, arbitrary: fc.constantFrom('?', '??', '?&', '?=', '?kinds', '?kinds=', '?since=', '?ids=', '?ids=,', '?kinds=job&kinds=worker', '?since=a&since=b') },
  );

export function renderQuery(query: string | { pairs: Array<[string, QueryValue]>; separator: string }): string {
  if (typeof query === 'string') return query;
  return `?${query.pairs
    .map(([key, value]) => {
      const text = renderQueryValue(value);
      return text === null ? key : `${key}=${text}`;
    })
    .join(query.separator)}`;
}

// ---------------------------------------------------------------------------------------------
// Checks every suite shares
// ---------------------------------------------------------------------------------------------

export const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/** JSON.parse, or undefined. */
export function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A short, printable view of anything. */
export function preview(value: unknown, max = 400): string {
  let text: string;
  try {
    text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch (error) {
    text = `<unprintable: ${(error as Error).message}>`;
  }
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
}

/** Error codes that mean the hub failed (500, 503), not that the input was refused. */
export const FAILURE_CODES: ReadonlySet<string> = new Set(['internal', 'unavailable']);

/** Why `body` is not the hub's error body `{ error: { code, message } }` with a message that says something; undefined when it is. */
export function errorBodyProblem(body: unknown): string | undefined {
  if (!isRecord(body) || !isRecord(body.error)) return `the answer is not { error: { code, message } }: ${preview(body)}`;
  const { code, message } = body.error;
  if (typeof code !== 'string' || code.length === 0) return `error.code is not a non-empty string: ${preview(body)}`;
  if (typeof message !== 'string' || message.trim().length === 0) return `error.message is empty: ${preview(body)}`;
  return undefined;
}

/** True for `{ error: { ... } }`. */
export const isErrorBody = (body: unknown): body is { error: { code: string; message: string } } => isRecord(body) && isRecord(body.error);

const FINAL = new Set(['completed', 'failed', 'cancelled']);
/** Job state changes the job machine can make (a state to itself: context only, e.g. progress). */
const NEXT_JOB_STATES: Record<string, readonly string[]> = {
  pending: ['pending', 'assigned', 'cancelled'],
  assigned: ['assigned', 'running', 'failed', 'retrying', 'pending', 'cancelled'],
  running: ['running', 'completed', 'failed', 'retrying', 'pending', 'cancelled'],
  retrying: ['retrying', 'pending', 'cancelled'],
};

const jobContext = (record: ActorRecord) => record.snapshot.context as { attempts: number; maxAttempts: number; result: unknown; progress: number };

/**
 * What in a job's records (as a monitor saw them, oldest first) the job machine could not have
 * done: a final job changing again (completed twice, a result replaced), a state change it has no
 * transition for, an attempt counted other than on an assignment, more attempts than allowed, a
 * seq going back or repeated with a different record. Records a monitor skipped (it resynced with
 * a snapshot) leave gaps that are not judged here: the view's own `problems` list seq gaps.
 */
export function jobHistoryProblems(records: readonly ActorRecord[]): string[] {
  const problems: string[] = [];
  for (let index = 1; index < records.length; index++) {
    const before = records[index - 1] as ActorRecord;
    const after = records[index] as ActorRecord;
    const where = `job ${after.id} seq ${before.seq} -> ${after.seq}`;
    if (after.seq <= before.seq) {
      problems.push(`${where}: seq did not increase`);
      continue;
    }
    if (before.removed) {
      problems.push(`${where}: changed after its removal (${after.state})`);
      continue;
    }
    if (after.seq !== before.seq + 1) continue; // the monitor missed records: nothing to judge between these two
    if (FINAL.has(before.state)) {
      const same = after.state === before.state && after.removed === true && jsonText(after.snapshot) === jsonText(before.snapshot);
      if (!same) problems.push(`${where}: ${before.state} and then ${after.state}${after.removed ? ' (removed)' : ''}: a finished job changed`);
      continue;
    }
    if (after.removed) {
      problems.push(`${where}: removed while ${before.state}`);
      continue;
    }
    if (!(NEXT_JOB_STATES[before.state] ?? []).includes(after.state)) {
      problems.push(`${where}: ${before.state} -> ${after.state} is no transition of the job machine`);
    }
    const counted = jobContext(after).attempts - jobContext(before).attempts;
    const assignedNow = before.state === 'pending' && after.state === 'assigned';
    if (counted !== (assignedNow ? 1 : 0)) problems.push(`${where}: attempts went from ${jobContext(before).attempts} to ${jobContext(after).attempts} on ${before.state} -> ${after.state}`);
    if (jobContext(after).attempts > jobContext(after).maxAttempts) problems.push(`${where}: attempt ${jobContext(after).attempts} of at most ${jobContext(after).maxAttempts}`);
  }
  return problems;
}

/**
 * `JSON.stringify(value)` for JSON values, without recursion: this process compares records the
 * hub accepted thousands of levels deep, and `JSON.stringify` would overflow on them here too,
 * passing the hub's failure off as the test's.
 */
export function jsonText(value: unknown): string {
  const out: string[] = [];
  // Work items: a value to write, or a literal piece of text.
  const work: Array<{ value: unknown } | { text: string }> = [{ value }];
  while (work.length > 0) {
    const item = work.pop() as { value: unknown } | { text: string };
    if ('text' in item) {
      out.push(item.text);
      continue;
    }
    const current = item.value;
    if (current === null || typeof current !== 'object') {
      out.push(current === undefined || typeof current === 'function' ? 'null' : (JSON.stringify(current) ?? 'null'));
      continue;
    }
    const pieces: Array<{ value: unknown } | { text: string }> = [];
    if (Array.isArray(current)) {
      pieces.push({ text: '[' });
      current.forEach((element, index) => {
        if (index > 0) pieces.push({ text: ',' });
        pieces.push({ value: element });
      });
      pieces.push({ text: ']' });
    } else {
      pieces.push({ text: '{' });
      let first = true;
      for (const key of Object.keys(current)) {
        const child = (current as Record<string, unknown>)[key];
        if (child === undefined || typeof child === 'function') continue;
        pieces.push({ text: `${first ? '' : ','}${JSON.stringify(key)}:` }, { value: child });
        first = false;
      }
      pieces.push({ text: '}' });
    }
    for (let index = pieces.length - 1; index >= 0; index--) work.push(pieces[index] as { value: unknown } | { text: string });
  }
  return out.join('');
}
