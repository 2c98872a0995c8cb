/** Asserting state sequences, with a diff a person can read. */

export interface SequenceOptions {
  /** Pass when the actual sequence starts with the expected one (the actor may have moved on). */
  prefix?: boolean;
  /** Named in the message, e.g. "job job_123". */
  label?: string;
}

export class SequenceMismatchError extends Error {
  constructor(
    message: string,
    readonly expected: string[],
    readonly actual: string[],
  ) {
    super(message);
    this.name = 'SequenceMismatchError';
  }
}

/** `"starting > idle > active"` or `['starting', 'idle', 'active']` -> the list. */
export function parseSequence(sequence: string | readonly string[]): string[] {
  if (typeof sequence !== 'string') return [...sequence];
  return sequence
    .split('>')
    .map((state) => state.trim())
    .filter(Boolean);
}

export function formatSequence(states: readonly string[]): string {
  return states.length === 0 ? '(nothing)' : states.join(' > ');
}

/** Drops consecutive repeats: a running job reporting progress stays one `running`. */
export function collapse(states: readonly string[]): string[] {
  return states.filter((state, index) => index === 0 || states[index - 1] !== state);
}

/** Throws a SequenceMismatchError that shows both sequences and where they part. */
export function expectSequence(actual: readonly string[], expected: string | readonly string[], options: SequenceOptions = {}): void {
  const want = parseSequence(expected);
  const got = [...actual];
  const compared = options.prefix ? got.slice(0, want.length) : got;
  const firstDifference = want.findIndex((state, index) => compared[index] !== state);
  const at = firstDifference >= 0 ? firstDifference : compared.length !== want.length ? want.length : -1;
  if (at < 0) return;
  const expectedText = formatSequence(want);
  const actualText = formatSequence(got);
  const pointer = ' '.repeat(prefixWidth(got, at) + '  actual:   '.length) + '^';
  const reason =
    at >= got.length
      ? `ends after step ${got.length}, expected ${want[at]} next`
      : at >= want.length
        ? `goes on with ${got[at]} after the expected end`
        : `step ${at + 1} is ${got[at]}, expected ${want[at]}`;
  throw new SequenceMismatchError(
    [
      `${options.label ?? 'state sequence'}${options.prefix ? ' (prefix)' : ''} differs: ${reason}`,
      `  expected: ${expectedText}`,
      `  actual:   ${actualText}`,
      pointer,
    ].join('\n'),
    want,
    got,
  );
}

function prefixWidth(states: readonly string[], index: number): number {
  return states.slice(0, index).reduce((width, state) => width + state.length + 3, 0);
}
