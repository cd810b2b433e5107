// Amounts typed by a person ("40", "40.5", "€ 1 234,50") as integer cents.

/** Cents, or null when the text is not an amount with at most two decimals. */
export function parseEuros(text: string): number | null {
  const cleaned = text.replace(/[€\s\u00a0\u202f]/g, '').replace(/^EUR/i, '');
  if (!cleaned) return null;
  // One decimal separator (point or comma) and at most two decimals; no thousands separators
  // but spaces, so "40,500" is refused rather than read as 40,500 euros or as 40.50.
  const match = /^(\d+)(?:[.,](\d{1,2}))?$/.exec(cleaned);
  if (!match) return null;
  const whole = Number(match[1]);
  const fraction = (match[2] ?? '').padEnd(2, '0');
  const cents = whole * 100 + Number(fraction || '0');
  return Number.isSafeInteger(cents) ? cents : null;
}

/** 4050 → "40.50" (for an input's value). */
export function centsToInput(cents: number): string {
  return (cents / 100).toFixed(2);
}
