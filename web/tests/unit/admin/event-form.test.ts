import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../src/lib/api/api-error';
import {
  draftFromEvent,
  emptyDraft,
  emptySection,
  firstErrorKey,
  fromLocalInput,
  sectionCapacity,
  serverFieldErrors,
  toEventBody,
  toLocalInput,
  validateDraft,
  type EventDraft,
} from '../../../src/lib/admin/event-form';

function draft(): EventDraft {
  return {
    name: ' Spring Gala ',
    category: 'concert',
    date: '2031-05-01T20:00',
    venueName: 'Salle Pleyel',
    city: 'Paris',
    country: '',
    sections: [
      { ...emptySection('general'), name: 'Floor', capacity: '100', price: '25' },
      { ...emptySection('numbered'), name: 'Balcony', rows: '3', seatsPerRow: '6', price: '40,50' },
    ],
  };
}

describe('the event form', () => {
  it('turns a valid draft into the API body', () => {
    const d = draft();
    expect(validateDraft(d)).toEqual({});
    expect(toEventBody(d)).toEqual({
      name: 'Spring Gala',
      date: new Date('2031-05-01T20:00').toISOString(),
      category: 'concert',
      venue: { name: 'Salle Pleyel', city: 'Paris', country: null },
      sections: [
        { name: 'Floor', seating: 'general', capacity: 100, rows: null, seats_per_row: null, base_price_cents: 2500 },
        { name: 'Balcony', seating: 'numbered', capacity: 18, rows: 3, seats_per_row: 6, base_price_cents: 4050 },
      ],
    });
  });

  it('computes numbered capacity from rows and seats', () => {
    expect(sectionCapacity({ ...emptySection('numbered'), rows: '4', seatsPerRow: '10' })).toBe(40);
    expect(sectionCapacity({ ...emptySection('numbered'), rows: '4', seatsPerRow: '' })).toBeNull();
    expect(sectionCapacity({ ...emptySection('general'), capacity: '12' })).toBe(12);
  });

  it('says what is missing, on the right field', () => {
    const errors = validateDraft({ ...emptyDraft(), sections: [emptySection('numbered'), { ...emptySection(), name: 'VIP!', capacity: '0', price: 'free' }] });
    expect(Object.keys(errors).sort()).toEqual(
      [
        'date',
        'name',
        'sections.0.base_price_cents',
        'sections.0.name',
        'sections.0.rows',
        'sections.0.seats_per_row',
        'sections.1.base_price_cents',
        'sections.1.capacity',
        'sections.1.name',
        'venue.name',
      ].sort(),
    );
    expect(firstErrorKey(errors, emptyDraft())).toBe('name');
  });

  it('refuses duplicate section names, any case', () => {
    const d = draft();
    d.sections[1] = { ...emptySection(), name: 'FLOOR', capacity: '5', price: '10' };
    expect(validateDraft(d)).toEqual({ 'sections.1.name': 'Another section has this name.' });
  });

  it('puts the server’s refusal on the field it names', () => {
    const d = draft();
    const refusal = (field: string) => new ApiError(400, 'VALIDATION_FAILED', 'x', { field });
    expect(serverFieldErrors(refusal('date'), d)).toEqual({ date: 'The event must start in the future.' });
    expect(Object.keys(serverFieldErrors(refusal('venue.name'), d) ?? {})).toEqual(['venue.name']);
    // The section that breaks the rule, else the first.
    d.sections[1] = { ...d.sections[1]!, price: '0' };
    expect(Object.keys(serverFieldErrors(refusal('sections.base_price_cents'), d) ?? {})).toEqual(['sections.1.base_price_cents']);
    expect(Object.keys(serverFieldErrors(refusal('sections.name'), draft()) ?? {})).toEqual(['sections.0.name']);
    // Numbered sections have no capacity field: rows × seats per row carries it.
    const numbered = draft();
    numbered.sections = [numbered.sections[1]!];
    expect(Object.keys(serverFieldErrors(refusal('sections.capacity'), numbered) ?? {})).toEqual(['sections.0.seats_per_row']);
    expect(serverFieldErrors(refusal('mystery'), d)).toBeNull();
    expect(serverFieldErrors(new ApiError(422, 'INVALID_STATE_TRANSITION', 'x'), d)).toBeNull();
  });

  it('round-trips a draft event', () => {
    const body = toEventBody(draft());
    const event = {
      event_id: 'e',
      created_at: '2030-01-01T00:00:00Z',
      status: 'draft',
      name: body.name,
      date: body.date,
      category: 'concert',
      venue: { name: 'Salle Pleyel', city: 'Paris', country: null },
      sections: body.sections.map((s) => ({ ...s, current_price_cents: s.base_price_cents, current_tier: 'regular' })),
    };
    const again = draftFromEvent(event);
    expect(toEventBody(again)).toEqual(body);
    expect(again.sections[1]?.price).toBe('40.50');
  });

  it('reads and writes datetime-local values', () => {
    expect(fromLocalInput(toLocalInput('2031-05-01T18:00:00Z'))).toBe('2031-05-01T18:00:00.000Z');
    expect(fromLocalInput('tomorrow')).toBeNull();
  });
});
