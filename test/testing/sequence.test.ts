/**
 * The sequence assertions of `statehub/testing`: what passes, what fails, and that a failure
 * shows both sequences and where they part.
 */
import { describe, expect, it } from 'vitest';
import { SequenceMismatchError, collapse, expectSequence, formatSequence, parseSequence } from 'statehub/testing';

/** The error `run` throws, which must be a SequenceMismatchError. */
function mismatch(run: () => void): SequenceMismatchError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(SequenceMismatchError);
    return error as SequenceMismatchError;
  }
  throw new Error('expected a SequenceMismatchError, nothing was thrown');
}

/** The column of the `^` under the actual line, and the column where the actual line shows step `index` (0-based). */
function pointerColumns(message: string, index: number) {
  const lines = message.split('\n');
  const actualLine = lines.find((line) => line.startsWith('  actual:   '))!;
  const states = actualLine.slice('  actual:   '.length).split(' > ');
  const column = '  actual:   '.length + states.slice(0, index).reduce((width, state) => width + state.length + ' > '.length, 0);
  return { pointer: lines.at(-1)!.indexOf('^'), step: column };
}

describe('parseSequence', () => {
  it("reads 'a > b > c' as its states", () => {
    expect(parseSequence('a > b > c')).toEqual(['a', 'b', 'c']);
  });

  it('ignores spacing and empty steps', () => {
    expect(parseSequence('  pending>assigned >   running  ')).toEqual(['pending', 'assigned', 'running']);
    expect(parseSequence('a > > b >')).toEqual(['a', 'b']);
    expect(parseSequence('')).toEqual([]);
  });

  it('copies a list given as an array', () => {
    const states = ['starting', 'idle'] as const;
    const parsed = parseSequence(states);
    expect(parsed).toEqual(['starting', 'idle']);
    parsed.push('active');
    expect(states).toEqual(['starting', 'idle']);
  });
});

describe('formatSequence', () => {
  it("joins states with ' > ' and names an empty sequence", () => {
    expect(formatSequence(['ready', 'busy', 'ready'])).toBe('ready > busy > ready');
    expect(formatSequence([])).toBe('(nothing)');
  });
});

describe('collapse', () => {
  it('drops consecutive repeats and keeps returns to an earlier state', () => {
    expect(collapse(['running', 'running', 'running'])).toEqual(['running']);
    expect(collapse(['a', 'a', 'b', 'b', 'b', 'a', 'c', 'c'])).toEqual(['a', 'b', 'a', 'c']);
    expect(collapse(['ready', 'busy', 'ready'])).toEqual(['ready', 'busy', 'ready']);
    expect(collapse([])).toEqual([]);
  });

  it('leaves its input alone', () => {
    const states = ['a', 'a', 'b'];
    collapse(states);
    expect(states).toEqual(['a', 'a', 'b']);
  });
});

describe('expectSequence', () => {
  it('passes on equal sequences, written as text or as a list', () => {
    expect(() => expectSequence(['pending', 'assigned', 'running', 'completed'], 'pending > assigned > running > completed')).not.toThrow();
    expect(() => expectSequence(['ready', 'busy', 'ready'], ['ready', 'busy', 'ready'])).not.toThrow();
    expect(() => expectSequence([], '')).not.toThrow();
  });

  it('with prefix, passes when the actual sequence starts with the expected one', () => {
    expect(() => expectSequence(['starting', 'idle', 'active', 'idle'], 'starting > idle', { prefix: true })).not.toThrow();
    expect(() => expectSequence(['starting', 'idle'], 'starting > idle', { prefix: true })).not.toThrow();
    expect(() => expectSequence(['starting'], '', { prefix: true })).not.toThrow();
  });

  it('without prefix, a longer actual sequence fails', () => {
    expect(() => expectSequence(['starting', 'idle', 'active'], 'starting > idle')).toThrow(SequenceMismatchError);
  });

  it('on a different step, shows both sequences and points at the first difference', () => {
    const error = mismatch(() => expectSequence(['a', 'x', 'c'], 'a > b > c'));
    expect(error.name).toBe('SequenceMismatchError');
    expect(error.message).toBe(
      [
        'state sequence differs: step 2 is x, expected b', //
        '  expected: a > b > c',
        '  actual:   a > x > c',
        `${' '.repeat(16)}^`,
      ].join('\n'),
    );
    expect(error.expected).toEqual(['a', 'b', 'c']);
    expect(error.actual).toEqual(['a', 'x', 'c']);
    const { pointer, step } = pointerColumns(error.message, 1);
    expect(pointer).toBe(step);
  });

  it('names the actor in the message when given a label', () => {
    const error = mismatch(() =>
      expectSequence(['pending', 'assigned', 'running', 'retrying'], 'pending > assigned > running > completed', { label: 'job job_1' }),
    );
    expect(error.message).toBe(
      [
        'job job_1 differs: step 4 is retrying, expected completed',
        '  expected: pending > assigned > running > completed',
        '  actual:   pending > assigned > running > retrying',
        `${' '.repeat(12 + 'pending > assigned > running > '.length)}^`,
      ].join('\n'),
    );
  });

  it('says when the actual sequence ends early, and which state was expected next', () => {
    const error = mismatch(() => expectSequence(['starting', 'idle'], 'starting > idle > active'));
    expect(error.message).toBe(
      [
        'state sequence differs: ends after step 2, expected active next',
        '  expected: starting > idle > active',
        '  actual:   starting > idle',
        // Under the place the missing state would take, which is where the expected line shows it.
        `${' '.repeat(12 + 'starting > idle > '.length)}^`,
      ].join('\n'),
    );
    const lines = error.message.split('\n');
    expect(lines[3]!.indexOf('^')).toBe(lines[1]!.indexOf('active'));
  });

  it('says when nothing was recorded at all', () => {
    const error = mismatch(() => expectSequence([], 'pending'));
    expect(error.message).toBe(
      ['state sequence differs: ends after step 0, expected pending next', '  expected: pending', '  actual:   (nothing)', `${' '.repeat(12)}^`].join('\n'),
    );
  });

  it('says when the actual sequence goes on after the expected end', () => {
    const error = mismatch(() => expectSequence(['ready', 'busy', 'ready', 'stale'], 'ready > busy > ready'));
    expect(error.message).toBe(
      [
        'state sequence differs: goes on with stale after the expected end',
        '  expected: ready > busy > ready',
        '  actual:   ready > busy > ready > stale',
        `${' '.repeat(12 + 'ready > busy > ready > '.length)}^`,
      ].join('\n'),
    );
    const { pointer, step } = pointerColumns(error.message, 3);
    expect(pointer).toBe(step);
  });

  it('with prefix, still fails on a different step or a sequence that ends early, and says it compared a prefix', () => {
    const different = mismatch(() => expectSequence(['starting', 'error', 'starting'], 'starting > idle', { prefix: true }));
    expect(different.message).toBe(
      [
        'state sequence (prefix) differs: step 2 is error, expected idle',
        '  expected: starting > idle',
        '  actual:   starting > error > starting',
        `${' '.repeat(12 + 'starting > '.length)}^`,
      ].join('\n'),
    );

    const early = mismatch(() => expectSequence(['starting'], 'starting > idle', { prefix: true, label: 'connector c1' }));
    expect(early.message.split('\n')[0]).toBe('connector c1 (prefix) differs: ends after step 1, expected idle next');
    expect(early.actual).toEqual(['starting']);
  });

  it('compares the sequence as given: repeats must be collapsed first', () => {
    expect(() => expectSequence(['running', 'running'], 'running')).toThrow(/goes on with running after the expected end/);
    expect(() => expectSequence(collapse(['running', 'running']), 'running')).not.toThrow();
  });
});
