/** What changed in a context between two changes, leaf by leaf. */
import { describe, expect, it } from 'vitest';
import { diffJson, pathText } from '../../ui/src/inspector/diff.js';

describe('diffJson', () => {
  it('names each changed, added and removed leaf by its path', () => {
    const before = { progress: 20, attempts: 1, error: null, result: null, payload: { steps: 10 }, tags: ['a', 'b'] };
    const after = { progress: 30, attempts: 1, error: { message: 'boom' }, payload: { steps: 10, extra: true }, tags: ['a'], workerId: 'w1' };
    expect(diffJson(before, after)).toEqual([
      { path: ['progress'], change: 'changed', before: 20, after: 30 },
      { path: ['error'], change: 'changed', before: null, after: { message: 'boom' } },
      { path: ['result'], change: 'removed', before: null },
      { path: ['payload', 'extra'], change: 'added', after: true },
      { path: ['tags', 1], change: 'removed', before: 'b' },
      { path: ['workerId'], change: 'added', after: 'w1' },
    ]);
  });

  it('finds nothing between equal values, and compares nested members, not references', () => {
    expect(diffJson({ a: { b: [1, { c: 2 }] } }, { a: { b: [1, { c: 2 }] } })).toEqual([]);
    expect(diffJson({ a: { b: [1, { c: 2 }] } }, { a: { b: [1, { c: 3 }] } })).toEqual([{ path: ['a', 'b', 1, 'c'], change: 'changed', before: 2, after: 3 }]);
  });

  it('tells an array from an object and a value from its absence', () => {
    expect(diffJson({ a: [] }, { a: {} })).toEqual([{ path: ['a'], change: 'changed', before: [], after: {} }]);
    expect(diffJson({ a: undefined }, {})).toEqual([{ path: ['a'], change: 'removed', before: undefined }]);
    expect(diffJson(1, 2)).toEqual([{ path: [], change: 'changed', before: 1, after: 2 }]);
  });
});

describe('pathText', () => {
  it('reads like the code that would reach the value', () => {
    expect(pathText(['error', 'message'])).toBe('error.message');
    expect(pathText(['tags', 2])).toBe('tags[2]');
    expect(pathText(['headers', 'content-type'])).toBe('headers["content-type"]');
    expect(pathText([])).toBe('(the whole value)');
  });
});
