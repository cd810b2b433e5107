import { describe, expect, it } from 'vitest';
import { checkRefund, refundableCents } from '../../../src/lib/admin/refund';

describe('refunds', () => {
  it('never more than captured minus refunded', () => {
    expect(refundableCents(10_000, 2_500)).toBe(7_500);
    expect(refundableCents(10_000, 12_000)).toBe(0);
    expect(checkRefund({ kind: 'partial', amount: '80', reason: 'broken seat' }, 7_500).errors.amount).toBe(
      'At most €75.00 can still be refunded.',
    );
  });

  it('builds the body: a part, or everything left', () => {
    expect(checkRefund({ kind: 'partial', amount: '25,50', reason: ' goodwill ' }, 7_500).body).toEqual({ amount_cents: 2_550, reason: 'goodwill' });
    expect(checkRefund({ kind: 'full', amount: '', reason: 'cancelled by phone' }, 7_500).body).toEqual({ amount_cents: null, reason: 'cancelled by phone' });
    expect(checkRefund({ kind: 'partial', amount: '75', reason: 'all' }, 7_500).body).toEqual({ amount_cents: null, reason: 'all' });
  });

  it('asks for a reason and a real amount', () => {
    const check = checkRefund({ kind: 'partial', amount: 'lots', reason: '  ' }, 7_500);
    expect(check.body).toBeNull();
    expect(Object.keys(check.errors).sort()).toEqual(['amount', 'reason']);
    expect(checkRefund({ kind: 'full', amount: '', reason: 'x' }, 0).errors.amount).toContain('Nothing is left');
  });
});
