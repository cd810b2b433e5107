// The event form (create and edit a draft): what the organiser types, checked as the server will
// check it, turned into the API's body, and the server's refusals put on the right field.
import type { Schemas } from '../api/client';
import type { ApiError } from '../api/api-error';
import { centsToInput, parseEuros } from '../money-input';

export type CreateEventBody = Schemas['CreateEvent'];
type Event = Schemas['Event'];

export type Seating = 'general' | 'numbered';

export interface SectionDraft {
  /** A stable key for the editor's list (not sent). */
  key: string;
  name: string;
  seating: Seating;
  /** General admission: how many people. Numbered: rows × seats per row. */
  capacity: string;
  rows: string;
  seatsPerRow: string;
  /** Base price in euros, as typed. */
  price: string;
}

export interface EventDraft {
  name: string;
  category: string;
  /** `yyyy-mm-ddThh:mm` in the organiser's zone (a datetime-local input). */
  date: string;
  venueName: string;
  city: string;
  country: string;
  sections: SectionDraft[];
}

/** Field keys: `name`, `date`, `category`, `venue.name`, ..., `sections`, `sections.0.capacity`. */
export type FieldErrors = Record<string, string>;

// The server's limits (src/domain): the form says the same before asking.
export const LIMITS = {
  name: 200,
  venue: 200,
  place: 100,
  sectionName: 50,
  sections: 100,
  capacity: 100_000,
  eventCapacity: 200_000,
  rows: 26 + 26 * 26,
  seatsPerRow: 999,
} as const;

let keys = 0;
function nextKey(): string {
  keys += 1;
  return `s${keys}`;
}

export function emptySection(seating: Seating = 'general'): SectionDraft {
  return { key: nextKey(), name: '', seating, capacity: '', rows: '', seatsPerRow: '', price: '' };
}

export function emptyDraft(): EventDraft {
  return { name: '', category: 'concert', date: '', venueName: '', city: '', country: '', sections: [emptySection()] };
}

const pad = (n: number) => String(n).padStart(2, '0');

/** An instant as a datetime-local value in the browser's zone. */
export function toLocalInput(iso: string): string {
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A datetime-local value (the browser's zone) as RFC 3339, or null. */
export function fromLocalInput(value: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** A draft event as the form shows it (editing). */
export function draftFromEvent(event: Event): EventDraft {
  return {
    name: event.name,
    category: event.category,
    date: toLocalInput(event.date),
    venueName: event.venue.name,
    city: event.venue.city ?? '',
    country: event.venue.country ?? '',
    sections: event.sections.map((s) => ({
      key: nextKey(),
      name: s.name,
      seating: s.seating === 'numbered' ? 'numbered' : 'general',
      capacity: String(s.capacity),
      rows: s.rows ? String(s.rows) : '',
      seatsPerRow: s.seats_per_row ? String(s.seats_per_row) : '',
      price: centsToInput(s.base_price_cents),
    })),
  };
}

const whole = (text: string): number | null => (/^\s*\d+\s*$/.test(text) ? Number(text) : null);

/** A section's seats: typed for general admission, rows × seats per row when numbered. */
export function sectionCapacity(section: SectionDraft): number | null {
  if (section.seating === 'general') return whole(section.capacity);
  const rows = whole(section.rows);
  const perRow = whole(section.seatsPerRow);
  return rows !== null && perRow !== null ? rows * perRow : null;
}

export function totalCapacity(draft: EventDraft): number {
  return draft.sections.reduce((n, s) => n + (sectionCapacity(s) ?? 0), 0);
}

const SECTION_NAME = /^[\p{L}\p{N} _-]+$/u;

/** Everything the form can tell before asking the server (the date's future is the server's call). */
export function validateDraft(draft: EventDraft): FieldErrors {
  const errors: FieldErrors = {};
  const name = draft.name.trim();
  if (!name) errors.name = 'Give the event a name.';
  else if (name.length > LIMITS.name) errors.name = `The name can be at most ${LIMITS.name} characters.`;
  if (!draft.date) errors.date = 'Choose the date and time the event starts.';
  else if (!fromLocalInput(draft.date)) errors.date = 'Enter the start as a date and a time.';
  if (!draft.venueName.trim()) errors['venue.name'] = 'Give the venue’s name.';
  if (draft.sections.length === 0) errors.sections = 'Add at least one section.';
  if (draft.sections.length > LIMITS.sections) errors.sections = `An event can have at most ${LIMITS.sections} sections.`;
  const seen = new Set<string>();
  draft.sections.forEach((s, i) => {
    const at = (field: string) => `sections.${i}.${field}`;
    const sectionName = s.name.trim();
    if (!sectionName) errors[at('name')] = 'Give the section a name.';
    else if (sectionName.length > LIMITS.sectionName || !SECTION_NAME.test(sectionName)) {
      errors[at('name')] = `Use letters, digits, spaces, “-” and “_” (at most ${LIMITS.sectionName}).`;
    } else if (seen.has(sectionName.toLowerCase())) errors[at('name')] = 'Another section has this name.';
    seen.add(sectionName.toLowerCase());
    if (s.seating === 'general') {
      const capacity = whole(s.capacity);
      if (capacity === null || capacity < 1 || capacity > LIMITS.capacity) {
        errors[at('capacity')] = `Enter a capacity from 1 to ${LIMITS.capacity.toLocaleString('en')}.`;
      }
    } else {
      const rows = whole(s.rows);
      const perRow = whole(s.seatsPerRow);
      if (rows === null || rows < 1 || rows > LIMITS.rows) errors[at('rows')] = `Enter 1 to ${LIMITS.rows} rows.`;
      if (perRow === null || perRow < 1 || perRow > LIMITS.seatsPerRow) {
        errors[at('seats_per_row')] = `Enter 1 to ${LIMITS.seatsPerRow} seats per row.`;
      } else if (rows !== null && rows * perRow > LIMITS.capacity) {
        errors[at('seats_per_row')] = `A section holds at most ${LIMITS.capacity.toLocaleString('en')} seats.`;
      }
    }
    const price = parseEuros(s.price);
    if (price === null || price <= 0) errors[at('base_price_cents')] = 'Enter a price above €0, like 40 or 39.50.';
  });
  if (!errors.sections && totalCapacity(draft) > LIMITS.eventCapacity) {
    errors.sections = `An event holds at most ${LIMITS.eventCapacity.toLocaleString('en')} seats in all.`;
  }
  return errors;
}

/** The body of POST /api/events and PUT /api/events/{id} (call after validateDraft found nothing). */
export function toEventBody(draft: EventDraft): CreateEventBody {
  const optional = (text: string) => (text.trim() ? text.trim() : null);
  return {
    name: draft.name.trim(),
    date: fromLocalInput(draft.date) ?? draft.date,
    category: draft.category || null,
    venue: { name: draft.venueName.trim(), city: optional(draft.city), country: optional(draft.country) },
    sections: draft.sections.map((s) => {
      const numbered = s.seating === 'numbered';
      return {
        name: s.name.trim(),
        seating: s.seating,
        capacity: sectionCapacity(s) ?? 0,
        rows: numbered ? whole(s.rows) : null,
        seats_per_row: numbered ? whole(s.seatsPerRow) : null,
        base_price_cents: parseEuros(s.price) ?? 0,
      };
    }),
  };
}

// The server names a field (`sections.capacity`), not which section: the words for each field,
// and the section that breaks the rule, found by the same rules.
const SERVER_WORDS: Record<string, string> = {
  name: 'The server refused this name: use 1 to 200 visible characters.',
  date: 'The event must start in the future.',
  category: 'Choose one of the categories in the list.',
  'venue.name': 'Give the venue’s name (up to 200 characters).',
  'venue.city': 'The city can be at most 100 characters.',
  'venue.country': 'The country can be at most 100 characters.',
  sections: 'An event needs 1 to 100 sections.',
  'sections.name': 'Each section needs its own name: letters, digits, spaces, “-” and “_”.',
  'sections.capacity': `A section holds 1 to ${LIMITS.capacity.toLocaleString('en')} seats, an event ${LIMITS.eventCapacity.toLocaleString('en')} in all.`,
  'sections.rows': `Numbered sections need 1 to ${LIMITS.rows} rows.`,
  'sections.seats_per_row': `Numbered sections need 1 to ${LIMITS.seatsPerRow} seats per row.`,
  'sections.base_price_cents': 'Enter a price above €0.',
  'sections.seating': 'Choose general admission or numbered seats.',
};

/** Which section a `sections.*` refusal is about (the first that breaks the rule; else the first). */
function culprit(field: string, draft: EventDraft): number {
  const local = validateDraft(draft);
  const suffix = field.slice('sections.'.length);
  const index = draft.sections.findIndex((_, i) => local[`sections.${i}.${suffix}`] !== undefined);
  if (index >= 0) return index;
  if (suffix === 'name') {
    const names = draft.sections.map((s) => s.name.trim().toLowerCase());
    const dup = names.findIndex((n, i) => names.indexOf(n) !== i);
    if (dup >= 0) return dup;
  }
  return 0;
}

/**
 * A refusal of the server as form errors: VALIDATION_FAILED on a known field goes under that
 * field; anything else returns null (the form shows it above the buttons).
 */
export function serverFieldErrors(error: ApiError, draft: EventDraft): FieldErrors | null {
  if (error.code !== 'VALIDATION_FAILED') return null;
  const field = typeof error.details.field === 'string' ? error.details.field : '';
  const words = SERVER_WORDS[field];
  if (!words) return null;
  if (field.startsWith('sections.')) {
    const suffix = field === 'sections.seating' ? 'seating' : field.slice('sections.'.length);
    const i = culprit(field, draft);
    const section = draft.sections[i];
    // Numbered sections show rows × seats per row instead of a capacity field.
    const key = suffix === 'capacity' && section?.seating === 'numbered' ? 'seats_per_row' : suffix;
    return { [`sections.${i}.${key}`]: words };
  }
  return { [field]: words };
}

/** The first field with an error, in the form's order (to focus it). */
export function firstErrorKey(errors: FieldErrors, draft: EventDraft): string | null {
  const order = ['name', 'category', 'date', 'venue.name', 'venue.city', 'venue.country', 'sections'];
  draft.sections.forEach((_, i) => {
    for (const f of ['name', 'seating', 'capacity', 'rows', 'seats_per_row', 'base_price_cents']) order.push(`sections.${i}.${f}`);
  });
  return order.find((k) => errors[k] !== undefined) ?? Object.keys(errors)[0] ?? null;
}
