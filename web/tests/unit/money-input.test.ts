import { describe, expect, it } from 'vitest';
import { centsToInput, parseEuros } from '../../src/lib/money-input';

describe('parseEuros', () => {
  it('reads what people type', () => {
    expect(parseEuros('40')).toBe(4000);
    expect(parseEuros('40.5')).toBe(4050);
    expect(parseEuros('40,50')).toBe(4050);
    expect(parseEuros('€ 1 234.99')).toBe(123_499);
    expect(parseEuros('0.01')).toBe(1);
  });

  it('refuses what is not an amount', () => {
    for (const text of ['', 'abc', '-5', '40,500', '1.2.3', '4e3']) expect(parseEuros(text), text).toBeNull();
  });

  it('writes cents for an input', () => {
    expect(centsToInput(4050)).toBe('40.50');
  });
});
