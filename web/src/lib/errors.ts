// Every refusal the API can give, in words a buyer understands. One table, keyed by `code`.
import { ApiError, NETWORK_UNREACHABLE, UNEXPECTED_RESPONSE, toApiError, type ErrorDetails } from './api/api-error';

type Words = string | ((details: ErrorDetails, error: ApiError) => string);

const str = (value: unknown): string | undefined =>
  typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
const num = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);

/** "A-1" → "row A seat 1" (labels are a row letter, a dash, a seat number). */
export function seatWords(label: string): string {
  const [row, seat] = label.split('-');
  return row && seat ? `row ${row} seat ${seat}` : label;
}

function list(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

export const DECLINE_REASONS: Record<string, string> = {
  card_declined: 'Your card was declined by the bank.',
  insufficient_funds: 'The card has insufficient funds.',
  expired_card: 'The card has expired.',
  incorrect_cvc: 'The security code (CVC) is not right.',
  processing_error: 'The card could not be processed.',
};

function retryIn(error: ApiError): string {
  const seconds = error.retryAfterSeconds ?? num(error.details.retry_after_seconds);
  if (!seconds) return 'Please wait a moment and try again.';
  if (seconds < 90) return `Please try again in ${Math.ceil(seconds)} seconds.`;
  return `Please try again in ${Math.ceil(seconds / 60)} minutes.`;
}

const FIELD_WORDS: Record<string, string> = {
  card_number: 'The card number is not valid.',
  'payment_method.card_number': 'The card number is not valid.',
  expiry: 'The expiry date is not valid (use MM/YY, in the future).',
  'payment_method.expiry': 'The expiry date is not valid (use MM/YY, in the future).',
  cvc: 'The security code (CVC) is not valid.',
  'payment_method.cvc': 'The security code (CVC) is not valid.',
  email: 'That email address does not look right.',
  to_email: 'That email address does not look right.',
};

export const ERROR_WORDS: Record<string, Words> = {
  INVALID_REQUEST: 'Something in that request was not right. Please check and try again.',
  VALIDATION_FAILED: (d) => FIELD_WORDS[str(d.field) ?? ''] ?? 'Some of the details are not valid. Please check them and try again.',
  INVALID_QUANTITY: 'You can buy between 1 and 8 tickets in one order.',
  UNAUTHENTICATED: 'Please sign in to continue.',
  FORBIDDEN: (d) =>
    d.reason === 'recent_sign_in_required'
      ? 'For your security, please sign in again (within the last 10 minutes) before adding a passkey.'
      : 'Your account is not allowed to do that.',
  PAYMENT_FAILED: (d) =>
    `${DECLINE_REASONS[str(d.decline_reason) ?? ''] ?? 'The payment was declined.'} Your seats were released and you have not been charged.`,
  EVENT_NOT_FOUND: 'We could not find that event. It may have been removed.',
  RESERVATION_NOT_FOUND: 'We could not find that order.',
  PAYMENT_NOT_FOUND: 'We could not find that payment.',
  TICKET_NOT_FOUND: 'We could not find that ticket. It may have been transferred.',
  SECTION_NOT_FOUND: (d) => (str(d.section) ? `There is no section called “${str(d.section)}”.` : 'We could not find that section.'),
  NOT_FOUND: 'We could not find what you were looking for.',
  RESERVATION_EXPIRED: 'Your hold on these seats has ended and they were released. You were not charged.',
  INSUFFICIENT_INVENTORY: (d) => {
    const available = num(d.available);
    const section = str(d.section);
    if (available === 0) return `Sorry, ${section ?? 'this section'} just sold out.`;
    if (available !== undefined) {
      return `Only ${available} ticket${available === 1 ? ' is' : 's are'} left in ${section ?? 'this section'}. Please choose fewer.`;
    }
    return 'There are not enough tickets left for that. Please choose fewer.';
  },
  SEAT_UNAVAILABLE: (d) => {
    const seats = Array.isArray(d.seats) ? d.seats.filter((s): s is string => typeof s === 'string') : [];
    if (seats.length === 0) return 'One of those seats was just taken by someone else. Please pick another.';
    const words = list(seats.map(seatWords));
    return `Sorry, ${words} ${seats.length === 1 ? 'was' : 'were'} just taken by someone else. Please pick ${seats.length === 1 ? 'another seat' : 'other seats'}.`;
  },
  HOLD_LIMIT_REACHED: (d) => {
    const limit = num(d.limit) ?? 8;
    const held = num(d.held);
    return `You can hold at most ${limit} seats for this event at a time${held !== undefined ? ` and you already hold ${held}` : ''}. Pay for or cancel your current hold first.`;
  },
  CONFLICT: 'Someone changed this at the same moment. Please try again.',
  IDEMPOTENCY_IN_FLIGHT: 'We are still working on your last request. Please wait a moment.',
  IDEMPOTENCY_KEY_REUSED: 'That request was already sent with different details. Please start again.',
  EVENT_CANCELLED: 'This event has been cancelled. Any tickets bought are refunded in full.',
  INVALID_STATE_TRANSITION: (d) => {
    const from = str(d.from);
    if (from === 'completed') return 'This order is already paid.';
    if (from === 'expired') return 'This hold has already ended.';
    if (from === 'cancelled' || from === 'refunded' || from === 'compensated') return 'This order is already closed.';
    return 'That cannot be done at this stage. Please refresh and try again.';
  },
  SALES_NOT_OPEN: 'Ticket sales for this event are not open right now.',
  TRANSFER_WINDOW_CLOSED: 'Tickets can be transferred only until 24 hours before the event starts, so this ticket can no longer be transferred.',
  CANCELLATION_WINDOW_CLOSED:
    'Orders can be cancelled up to 3 days before the event; it is too late now. Your tickets stay valid, and you can transfer them up to 24 hours before the start.',
  RATE_LIMITED: (_d, e) => `Too many attempts. ${retryIn(e)}`,
  DEPENDENCY_UNAVAILABLE: 'Part of our service is briefly unavailable. Nothing was changed; please try again in a moment.',
  INTERNAL: 'Something went wrong on our side. Please try again; if it keeps happening, contact support.',
  [NETWORK_UNREACHABLE]: 'We can’t reach the ticketing service. Check your internet connection and try again.',
  [UNEXPECTED_RESPONSE]: 'The ticketing service gave an unexpected answer. Please try again in a moment.',
};

/** Words for any error (an ApiError, a network failure, anything thrown). */
export function errorMessage(error: unknown): string {
  const e = toApiError(error);
  const words = ERROR_WORDS[e.code];
  if (typeof words === 'function') return words(e.details, e);
  if (typeof words === 'string') return words;
  if (e.status >= 500) return ERROR_WORDS.INTERNAL as string;
  return 'Something went wrong. Please try again.';
}

/** `/auth/callback?error=CODE` after an OpenID provider. */
export const SIGN_IN_ERROR_WORDS: Record<string, string> = {
  cancelled: 'You cancelled the sign-in at the provider. You can try again or use another way to sign in.',
  provider_error: 'The sign-in provider reported a problem. Please try again, or sign in with your email.',
  invalid_state: 'That sign-in link was old or already used. Please start the sign-in again.',
  unverified_email: 'The provider has not verified your email address, so we cannot sign you in with it. Verify it there, or sign in with your email.',
  unavailable: 'The sign-in provider is not reachable right now. Please try again later, or sign in with your email.',
  sign_in_failed: 'The sign-in could not be completed. Please try again, or sign in with your email.',
};

export function signInErrorMessage(code: string): string {
  return SIGN_IN_ERROR_WORDS[code] ?? 'The sign-in did not complete. Please try again.';
}

/** Words for a browser WebAuthn failure (the user closed the prompt, no passkey, ...). */
export function passkeyErrorMessage(error: unknown): string {
  const name = error instanceof Error ? error.name : '';
  if (name === 'NotAllowedError' || name === 'AbortError') return 'The passkey prompt was closed or timed out. Please try again.';
  if (name === 'InvalidStateError') return 'This device already has a passkey for your account.';
  if (name === 'SecurityError') return 'Passkeys are not available on this address.';
  if (name === 'NotSupportedError') return 'This browser or device does not support passkeys.';
  if (error instanceof ApiError) return errorMessage(error);
  return 'The passkey did not work. Please try again, or sign in with your email.';
}
