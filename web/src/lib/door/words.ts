// What the door shows, in words: big answers, and why a ticket is refused.
import { seatName } from '../seats';

export const INVALID_REASONS: Record<string, string> = {
  malformed: 'This is not a ticket code, or it is damaged.',
  bad_signature: 'This code is forged or altered: it was not issued by us.',
  unknown_key: 'This code was signed with a key we do not know.',
  another_event: 'This ticket is for another event.',
  unknown_ticket: 'We have no such ticket.',
  refunded: 'This ticket was refunded and no longer works.',
  transferred: 'This ticket was given to someone else: they have the code that works now.',
  refused: 'The server refused this scan.',
  no_keys: 'This door has no signature keys yet (it was never online): connect once, then scan again.',
};

export function invalidWords(reason: string | null | undefined): string {
  return INVALID_REASONS[reason ?? ''] ?? 'This ticket cannot be let in.';
}

/** "Row A seat 3" or "General admission". */
export function seatWords(seat: string | null | undefined): string {
  return seat ? seatName(seat) : 'General admission';
}
