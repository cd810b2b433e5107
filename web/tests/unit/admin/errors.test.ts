import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../src/lib/api/api-error';
import { adminErrorMessage } from '../../../src/lib/admin/errors';

const err = (status: number, code: string, details: Record<string, unknown> = {}) => new ApiError(status, code, 'server words', details);

describe('adminErrorMessage', () => {
  it('explains refusals of the organiser’s actions', () => {
    expect(adminErrorMessage(err(422, 'INVALID_STATE_TRANSITION', { from: 'cancelled', action: 'open sales' }))).toContain(
      'This event is cancelled, so it cannot open sales now.',
    );
    expect(adminErrorMessage(err(422, 'INVALID_STATE_TRANSITION', { from: 'published', action: 'edit' }))).toContain('cannot be edited');
    expect(adminErrorMessage(err(422, 'CANCELLATION_WINDOW_CLOSED'))).toBe('An event cannot be cancelled within 24 hours of its start.');
    expect(adminErrorMessage(err(400, 'VALIDATION_FAILED', { requested_cents: 9000, refundable_cents: 4000 }))).toBe(
      'Only €40.00 of this payment can still be refunded, less than the €90.00 asked for.',
    );
    expect(adminErrorMessage(err(400, 'VALIDATION_FAILED', { field: 'reason' }))).toBe('Give a reason (up to 500 characters).');
    expect(adminErrorMessage(err(404, 'EVENT_NOT_FOUND'))).toContain('could not find that event');
  });
});
