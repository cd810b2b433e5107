// An organiser's refund of one order's payment: full or part, never more than is left.
import { formatMoney } from '../money';
import { parseEuros } from '../money-input';

export interface RefundForm {
  kind: 'full' | 'partial';
  /** Euros, as typed (partial only). */
  amount: string;
  reason: string;
}

export interface RefundCheck {
  body: { amount_cents: number | null; reason: string } | null;
  errors: { amount?: string; reason?: string };
}

/** What can still go back: captured minus refunded so far. */
export function refundableCents(capturedCents: number, refundedCents: number): number {
  return Math.max(0, capturedCents - refundedCents);
}

export function checkRefund(form: RefundForm, leftCents: number): RefundCheck {
  const errors: RefundCheck['errors'] = {};
  const reason = form.reason.trim();
  if (!reason) errors.reason = 'Say why (the buyer sees it in their order’s history).';
  else if (reason.length > 500) errors.reason = 'The reason can be at most 500 characters.';
  let amount: number | null = null;
  if (leftCents <= 0) errors.amount = 'Nothing is left to refund on this payment.';
  else if (form.kind === 'partial') {
    amount = parseEuros(form.amount);
    if (amount === null || amount <= 0) errors.amount = 'Enter an amount above €0, like 20 or 19.50.';
    else if (amount > leftCents) errors.amount = `At most ${formatMoney(leftCents)} can still be refunded.`;
  }
  if (errors.amount || errors.reason) return { body: null, errors };
  // A partial refund of everything left is a full refund.
  return { body: { amount_cents: amount !== null && amount < leftCents ? amount : null, reason }, errors };
}
