import { describe, expect, it } from 'vitest';
import { centsCell, toCsv } from '../../../src/lib/admin/csv';

describe('toCsv', () => {
  it('quotes what needs quoting and ends lines with CRLF', () => {
    const rows = [
      { name: 'Jazz, live', cents: 4050, note: 'say "hi"' },
      { name: '=cmd()', cents: -100, note: null },
    ];
    const csv = toCsv(rows, [
      { header: 'Event', value: (r) => r.name },
      { header: 'Revenue (EUR)', value: (r) => centsCell(r.cents) },
      { header: 'Note', value: (r) => r.note },
    ]);
    expect(csv).toBe('Event,Revenue (EUR),Note\r\n"Jazz, live",40.50,"say ""hi"""\r\n\'=cmd(),-1.00,\r\n');
  });

  it('writes cents as euros', () => {
    expect(centsCell(5)).toBe('0.05');
    expect(centsCell(123456)).toBe('1234.56');
  });
});
