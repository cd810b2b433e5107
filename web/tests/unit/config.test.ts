import { describe, expect, it } from 'vitest';
import { showsTestCards } from '../../src/lib/config';

describe('showsTestCards', () => {
  it('only for the payment simulator', () => {
    expect(showsTestCards({ payment_gateway: 'simulator' })).toBe(true);
    expect(showsTestCards({ payment_gateway: 'stripe' })).toBe(false);
    expect(showsTestCards(null)).toBe(false);
  });
});
