// The rules the server enforces, as the buyer sees them before asking (the server decides).

const DAY = 24 * 60 * 60 * 1000;

export interface RefundPreview {
  /** The buyer may cancel (a paid order more than 3 days before the start; an unpaid hold always). */
  allowed: boolean;
  /** Share of what was paid that comes back: 100, 50 or 0. */
  percent: number;
  /** Cents that come back. */
  amountCents: number;
}

/**
 * A buyer cancelling a paid order: everything back more than 7 days before the start, half from
 * 3 to 7 days (inclusive), and no cancellation under 3 days.
 */
export function refundPreview(eventStartsAt: string | number, paidCents: number, nowMs: number): RefundPreview {
  const start = typeof eventStartsAt === 'number' ? eventStartsAt : Date.parse(eventStartsAt);
  const left = start - nowMs;
  if (left > 7 * DAY) return { allowed: true, percent: 100, amountCents: paidCents };
  if (left >= 3 * DAY) return { allowed: true, percent: 50, amountCents: Math.round(paidCents / 2) };
  return { allowed: false, percent: 0, amountCents: 0 };
}

/** Tickets can be given to someone else until 24 hours before the start. */
export function canTransfer(eventStartsAt: string | number, nowMs: number): boolean {
  const start = typeof eventStartsAt === 'number' ? eventStartsAt : Date.parse(eventStartsAt);
  return start - nowMs >= DAY;
}

export type PriceTier = 'early_bird' | 'regular' | 'last_minute';

export const TIER_WORDS: Record<string, string> = {
  early_bird: 'Early bird',
  regular: 'Regular price',
  last_minute: 'Last minute',
};

/** Reservation statuses in words. */
export const RESERVATION_STATUS_WORDS: Record<string, string> = {
  pending: 'Being set up',
  seats_reserved: 'Seats held, awaiting payment',
  seats_held: 'Seats held, awaiting payment',
  payment_pending: 'Payment in progress',
  payment_processing: 'Payment in progress',
  completed: 'Paid',
  expired: 'Hold ended',
  cancelled: 'Cancelled',
  compensated: 'Payment declined, seats released',
  refunded: 'Refunded',
  rejected: 'Not possible',
};

export function reservationStatusWords(status: string): string {
  return RESERVATION_STATUS_WORDS[status] ?? status.replace(/_/g, ' ');
}

/** A reservation still holding seats that can be paid for. */
export function isPayable(status: string): boolean {
  return status === 'seats_reserved' || status === 'seats_held' || status === 'payment_pending' || status === 'pending';
}
