import { runInNewContext } from 'node:vm';
import { normaliseParam } from './pglite.database';

describe('normaliseParam', () => {
  it('sends a Date as its ISO string, also a Date from another realm', () => {
    expect(normaliseParam(new Date(0))).toBe('1970-01-01T00:00:00.000Z');
    const foreign: unknown = runInNewContext('new Date(86400000)');
    expect(foreign instanceof Date).toBe(false);
    expect(normaliseParam(foreign)).toBe('1970-01-02T00:00:00.000Z');
  });

  it('normalises the Dates inside arrays, nested too', () => {
    expect(normaliseParam(['a', new Date(0), null, [new Date(0), 1]])).toEqual([
      'a',
      '1970-01-01T00:00:00.000Z',
      null,
      ['1970-01-01T00:00:00.000Z', 1],
    ]);
  });

  it('passes scalars and arrays of scalars through as they are', () => {
    const column = ['x', null, 'NULL', '{a,b}', 3];
    expect(normaliseParam(column)).toBe(column);
    for (const v of ['s', 1, 0n, true, null, undefined]) expect(normaliseParam(v)).toBe(v);
    const bytes = Buffer.from('ab');
    expect(normaliseParam(bytes)).toBe(bytes);
  });
});
