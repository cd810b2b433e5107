import { describe, expect, it } from 'vitest';
import { actionsFor, consequence, statusWords } from '../../../src/lib/admin/lifecycle';

const now = Date.parse('2030-06-01T12:00:00Z');
const inDays = (d: number) => new Date(now + d * 86_400_000).toISOString();

describe('lifecycle', () => {
  it('offers what the status allows', () => {
    expect(actionsFor('draft', inDays(30), now)).toEqual(['publish', 'cancel']);
    expect(actionsFor('published', inDays(30), now)).toEqual(['open', 'cancel']);
    expect(actionsFor('sales_open', inDays(30), now)).toEqual(['close', 'cancel']);
    expect(actionsFor('sales_closed', inDays(30), now)).toEqual(['open', 'cancel']);
    expect(actionsFor('cancelled', inDays(30), now)).toEqual([]);
    expect(actionsFor('completed', inDays(-1), now)).toEqual([]);
  });

  it('no cancelling within 24 hours, no reopening once started', () => {
    expect(actionsFor('sales_open', inDays(0.5), now)).toEqual(['close']);
    expect(actionsFor('sales_closed', inDays(-0.1), now)).toEqual([]);
  });

  it('says what cancelling refunds', () => {
    expect(consequence('cancel', { orders: 3, cents: 12_000 }).text).toContain('every paid order is refunded in full: 3 orders, €120.00'.replace('every', 'Every'));
    expect(consequence('cancel', { orders: 1, cents: 4_000 }).text).toContain('1 order, €40.00');
    expect(consequence('cancel', { orders: 0, cents: 0 }).text).toContain('nothing to refund');
    expect(consequence('publish').confirm).toBe('Publish');
    expect(statusWords('sales_open')).toBe('On sale');
    expect(statusWords('something_new')).toBe('something new');
  });
});
