import { describe, expect, it } from 'vitest';
import { canTransfer, isPayable, refundPreview, reservationStatusWords } from '../../src/lib/policy';

const DAY = 86_400_000;
const start = Date.parse('2030-06-01T19:00:00Z');

describe('refundPreview', () => {
  it('refunds everything more than 7 days before the start', () => {
    expect(refundPreview(start, 8000, start - 8 * DAY)).toEqual({ allowed: true, percent: 100, amountCents: 8000 });
    expect(refundPreview(start, 8000, start - 7 * DAY - 1)).toEqual({ allowed: true, percent: 100, amountCents: 8000 });
  });

  it('refunds half from 3 to 7 days (inclusive)', () => {
    expect(refundPreview(start, 8000, start - 7 * DAY)).toEqual({ allowed: true, percent: 50, amountCents: 4000 });
    expect(refundPreview(start, 8000, start - 5 * DAY)).toEqual({ allowed: true, percent: 50, amountCents: 4000 });
    expect(refundPreview(start, 8000, start - 3 * DAY)).toEqual({ allowed: true, percent: 50, amountCents: 4000 });
    expect(refundPreview(start, 4001, start - 4 * DAY).amountCents).toBe(2001);
  });

  it('refuses under 3 days', () => {
    expect(refundPreview(start, 8000, start - 3 * DAY + 1)).toEqual({ allowed: false, percent: 0, amountCents: 0 });
    expect(refundPreview(new Date(start).toISOString(), 8000, start + DAY)).toMatchObject({ allowed: false });
  });
});

describe('canTransfer', () => {
  it('allows transfers until 24 hours before the start', () => {
    expect(canTransfer(start, start - 2 * DAY)).toBe(true);
    expect(canTransfer(start, start - DAY)).toBe(true);
    expect(canTransfer(start, start - DAY + 1)).toBe(false);
  });
});

describe('reservation statuses', () => {
  it('has words for every status and knows which can be paid', () => {
    expect(reservationStatusWords('seats_reserved')).toBe('Seats held, awaiting payment');
    expect(reservationStatusWords('compensated')).toBe('Payment declined, seats released');
    expect(reservationStatusWords('something_new')).toBe('something new');
    expect(isPayable('seats_reserved')).toBe(true);
    expect(isPayable('payment_pending')).toBe(true);
    expect(isPayable('completed')).toBe(false);
    expect(isPayable('expired')).toBe(false);
  });
});
