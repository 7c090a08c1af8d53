import { bucketsAt, periodStart } from './budget-periods';

describe('bucketsAt', () => {
  const at = (iso: string) => Date.parse(iso);

  it('names the UTC hour, day and month, across hour, day, month and year boundaries', () => {
    expect(bucketsAt(at('2026-12-31T23:59:59.999Z'))).toEqual({
      hour: '2026-12-31T23',
      day: '2026-12-31',
      month: '2026-12',
      total: 'total',
    });
    expect(bucketsAt(at('2027-01-01T00:00:00.000Z'))).toEqual({
      hour: '2027-01-01T00',
      day: '2027-01-01',
      month: '2027-01',
      total: 'total',
    });
    expect(bucketsAt(at('2027-01-01T00:59:59.999Z')).hour).toBe('2027-01-01T00');
    expect(bucketsAt(at('2027-01-01T01:00:00.000Z')).hour).toBe('2027-01-01T01');
  });

  it('answers a clock that went back with that earlier hour, not the last one asked for', () => {
    expect(bucketsAt(at('2026-06-15T10:30:00Z')).hour).toBe('2026-06-15T10');
    expect(bucketsAt(at('2026-06-15T09:59:59Z')).hour).toBe('2026-06-15T09');
    expect(bucketsAt(at('2026-06-15T10:00:00Z')).hour).toBe('2026-06-15T10');
  });

  it('hands out buckets nobody can change', () => {
    const b = bucketsAt(at('2026-06-15T10:30:00Z'));
    expect(() => {
      (b as { hour: string }).hour = 'x';
    }).toThrow(TypeError);
    expect(bucketsAt(at('2026-06-15T10:45:00Z')).hour).toBe('2026-06-15T10');
  });

  it('agrees with periodStart on where each period begins', () => {
    const now = at('2026-03-09T17:42:05Z');
    expect(periodStart('hour', now).toISOString().slice(0, 13)).toBe(bucketsAt(now).hour);
    expect(periodStart('day', now).toISOString().slice(0, 10)).toBe(bucketsAt(now).day);
    expect(periodStart('month', now).toISOString().slice(0, 7)).toBe(bucketsAt(now).month);
  });
});
