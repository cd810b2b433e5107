import { describe, expect, it } from 'vitest';
import { formatMoney, priceFrom } from '../../src/lib/money';

describe('formatMoney', () => {
  it('formats cents as euros in the given locale', () => {
    expect(formatMoney(4000, 'en-GB')).toBe('€40.00');
    expect(formatMoney(123456, 'en-GB')).toBe('€1,234.56');
    expect(formatMoney(5, 'en-GB')).toBe('€0.05');
    expect(formatMoney(0, 'en-GB')).toBe('€0.00');
  });

  it('follows the locale’s conventions', () => {
    expect(formatMoney(4000, 'de-DE')).toBe('40,00\u00a0€');
    expect(formatMoney(123456, 'fr-FR')).toMatch(/^1\s234,56\s€$/u);
  });
});

describe('priceFrom', () => {
  it('is the lowest current price, or null without sections', () => {
    expect(priceFrom([{ current_price_cents: 5000 }, { current_price_cents: 3200 }])).toBe(3200);
    expect(priceFrom([])).toBeNull();
  });
});
