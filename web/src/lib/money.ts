// Money arrives as integer cents (fields ending `_cents`); the platform sells in euros.

export const CURRENCY = 'EUR';

const formatters = new Map<string, Intl.NumberFormat>();

function formatter(locale: string | undefined, currency: string): Intl.NumberFormat {
  const key = `${locale ?? ''}|${currency}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.NumberFormat(locale, { style: 'currency', currency });
    formatters.set(key, f);
  }
  return f;
}

/** `4000` → "€40.00" (in the visitor's locale unless one is given). */
export function formatMoney(cents: number, locale?: string, currency: string = CURRENCY): string {
  return formatter(locale, currency).format(cents / 100);
}

/** The lowest current price among sections, or null when there are none. */
export function priceFrom(sections: ReadonlyArray<{ current_price_cents: number }>): number | null {
  if (sections.length === 0) return null;
  return Math.min(...sections.map((s) => s.current_price_cents));
}
