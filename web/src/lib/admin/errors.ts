// Refusals of the organiser's actions in words (the buyer's words in ../errors.ts otherwise).
import { toApiError } from '../api/api-error';
import { errorMessage } from '../errors';
import { formatMoney } from '../money';
import { statusWords } from './lifecycle';

const num = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);
const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

const FIELD_WORDS: Record<string, string> = {
  reason: 'Give a reason (up to 500 characters).',
  amount_cents: 'Enter an amount above €0.',
  days: 'Choose a range of at most 10 years.',
};

/** Words for a refusal of an organiser's request. */
export function adminErrorMessage(error: unknown): string {
  const e = toApiError(error);
  const d = e.details;
  switch (e.code) {
    case 'INVALID_STATE_TRANSITION': {
      const from = str(d.from);
      const action = str(d.action);
      if (from === 'started') return 'The event has already started, so sales cannot open again.';
      if (from && action) return `This event is ${statusWords(from).toLowerCase()}, so it cannot ${action === 'edit' ? 'be edited' : action} now. The page shows its current state.`;
      if (from && ['completed', 'refunded', 'cancelled', 'compensated', 'expired'].includes(from)) return 'This order or payment is already closed.';
      return 'That cannot be done in the event’s current state. The page shows its current state.';
    }
    case 'CANCELLATION_WINDOW_CLOSED':
      return 'An event cannot be cancelled within 24 hours of its start.';
    case 'VALIDATION_FAILED': {
      const requested = num(d.requested_cents);
      const refundable = num(d.refundable_cents);
      if (requested !== undefined && refundable !== undefined) {
        return `Only ${formatMoney(refundable)} of this payment can still be refunded, less than the ${formatMoney(requested)} asked for.`;
      }
      return FIELD_WORDS[str(d.field) ?? ''] ?? errorMessage(e);
    }
    case 'FORBIDDEN':
      return 'Your account is not allowed to do that: it needs the organiser (admin) role.';
    default:
      return errorMessage(e);
  }
}
