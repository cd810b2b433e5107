import { describe, expect, it } from 'vitest';
import { ApiError, NETWORK_UNREACHABLE, toApiError } from '../../src/lib/api/api-error';
import { ERROR_WORDS, errorMessage, passkeyErrorMessage, signInErrorMessage } from '../../src/lib/errors';

const err = (status: number, code: string, details: Record<string, unknown> = {}, retry?: number) =>
  new ApiError(status, code, 'server words', details, retry);

describe('errorMessage', () => {
  it('has words for every code in the API contract', () => {
    const codes = [
      'INVALID_REQUEST', 'INVALID_QUANTITY', 'VALIDATION_FAILED', 'UNAUTHENTICATED', 'PAYMENT_FAILED', 'FORBIDDEN',
      'EVENT_NOT_FOUND', 'RESERVATION_NOT_FOUND', 'PAYMENT_NOT_FOUND', 'TICKET_NOT_FOUND', 'SECTION_NOT_FOUND',
      'NOT_FOUND', 'RESERVATION_EXPIRED', 'INSUFFICIENT_INVENTORY', 'SEAT_UNAVAILABLE', 'CONFLICT',
      'IDEMPOTENCY_IN_FLIGHT', 'EVENT_CANCELLED', 'INVALID_STATE_TRANSITION', 'SALES_NOT_OPEN',
      'TRANSFER_WINDOW_CLOSED', 'CANCELLATION_WINDOW_CLOSED', 'IDEMPOTENCY_KEY_REUSED', 'RATE_LIMITED',
      'DEPENDENCY_UNAVAILABLE', 'INTERNAL', 'HOLD_LIMIT_REACHED',
    ];
    for (const code of codes) {
      expect(ERROR_WORDS[code], code).toBeDefined();
      const words = errorMessage(err(400, code));
      expect(words, code).not.toContain('server words');
      expect(words.length, code).toBeGreaterThan(10);
    }
  });

  it('names the seats someone else took', () => {
    expect(errorMessage(err(409, 'SEAT_UNAVAILABLE', { seats: ['A-1'] }))).toBe(
      'Sorry, row A seat 1 was just taken by someone else. Please pick another seat.',
    );
    expect(errorMessage(err(409, 'SEAT_UNAVAILABLE', { seats: ['A-1', 'A-2', 'B-7'] }))).toContain(
      'row A seat 1, row A seat 2 and row B seat 7 were just taken',
    );
  });

  it('says how many tickets are left', () => {
    expect(errorMessage(err(409, 'INSUFFICIENT_INVENTORY', { section: 'Floor', requested: 4, available: 2 }))).toBe(
      'Only 2 tickets are left in Floor. Please choose fewer.',
    );
    expect(errorMessage(err(409, 'INSUFFICIENT_INVENTORY', { section: 'Floor', requested: 4, available: 0 }))).toBe(
      'Sorry, Floor just sold out.',
    );
  });

  it('gives the decline reason and says the seats were released', () => {
    const declined = errorMessage(err(402, 'PAYMENT_FAILED', { decline_reason: 'card_declined' }));
    expect(declined).toContain('declined by the bank');
    expect(declined).toContain('seats were released');
    expect(errorMessage(err(402, 'PAYMENT_FAILED', { decline_reason: 'insufficient_funds' }))).toContain('insufficient funds');
  });

  it('explains the hold limit and recent sign-in rule', () => {
    expect(errorMessage(err(409, 'HOLD_LIMIT_REACHED', { limit: 8, held: 6 }))).toContain('at most 8 seats');
    expect(errorMessage(err(403, 'FORBIDDEN', { reason: 'recent_sign_in_required' }))).toContain('sign in again');
    expect(errorMessage(err(403, 'FORBIDDEN'))).toBe('Your account is not allowed to do that.');
  });

  it('tells when to retry after a rate limit', () => {
    expect(errorMessage(err(429, 'RATE_LIMITED', {}, 30))).toBe('Too many attempts. Please try again in 30 seconds.');
    expect(errorMessage(err(429, 'RATE_LIMITED', { retry_after_seconds: 600 }))).toBe('Too many attempts. Please try again in 10 minutes.');
    expect(errorMessage(err(429, 'RATE_LIMITED'))).toBe('Too many attempts. Please wait a moment and try again.');
  });

  it('explains the transfer and cancellation windows', () => {
    expect(errorMessage(err(422, 'TRANSFER_WINDOW_CLOSED'))).toContain('24 hours before');
    expect(errorMessage(err(422, 'CANCELLATION_WINDOW_CLOSED'))).toContain('3 days before');
  });

  it('speaks of the network when the server cannot be reached', () => {
    expect(errorMessage(new TypeError('Failed to fetch'))).toContain('can’t reach');
    expect(toApiError(new TypeError('x')).code).toBe(NETWORK_UNREACHABLE);
    expect(toApiError(new TypeError('x')).retryable).toBe(true);
  });

  it('falls back sensibly for unknown codes', () => {
    expect(errorMessage(err(500, 'SOMETHING_NEW'))).toContain('on our side');
    expect(errorMessage(err(418, 'SOMETHING_NEW'))).toBe('Something went wrong. Please try again.');
    expect(errorMessage('boom')).toBe('Something went wrong. Please try again.');
  });

  it('maps field validation errors', () => {
    expect(errorMessage(err(400, 'VALIDATION_FAILED', { field: 'payment_method.card_number' }))).toBe('The card number is not valid.');
    expect(errorMessage(err(400, 'VALIDATION_FAILED', { field: 'name' }))).toContain('not valid');
  });
});

describe('ApiError.fromResponse', () => {
  it('reads the envelope and Retry-After', () => {
    const response = new Response(null, { status: 429, headers: { 'retry-after': '12' } });
    const e = ApiError.fromResponse(response, { code: 'RATE_LIMITED', message: 'slow down', details: { retry_after_seconds: 12 } });
    expect(e).toMatchObject({ status: 429, code: 'RATE_LIMITED', retryAfterSeconds: 12 });
    expect(e.details).toEqual({ retry_after_seconds: 12 });
    expect(e.retryable).toBe(true);
  });

  it('copes with a body that is not the envelope', () => {
    const e = ApiError.fromResponse(new Response(null, { status: 502 }), '<html>Bad gateway</html>');
    expect(e.code).toBe('UNEXPECTED_RESPONSE');
    expect(e.status).toBe(502);
    expect(e.retryable).toBe(true);
  });
});

describe('sign-in words', () => {
  it('covers every OpenID callback error', () => {
    for (const code of ['cancelled', 'provider_error', 'invalid_state', 'unverified_email', 'unavailable']) {
      expect(signInErrorMessage(code)).not.toBe(signInErrorMessage('???'));
    }
  });

  it('explains passkey failures', () => {
    const closed = Object.assign(new Error('x'), { name: 'NotAllowedError' });
    expect(passkeyErrorMessage(closed)).toContain('closed or timed out');
    expect(passkeyErrorMessage(err(401, 'UNAUTHENTICATED'))).toBe('Please sign in to continue.');
  });
});
