// The seat map's rules as plain functions: labels, the grid, what can be picked, and what a
// live update does to a selection.

export type SeatStatus = 'available' | 'reserved' | 'sold';

export interface Seat {
  seat_number: string;
  status: string;
}

export interface SeatLabel {
  row: string;
  number: number;
}

/** At most this many seats in one order (README: 1–8 tickets). */
export const MAX_SEATS_PER_ORDER = 8;

/** "AB-12" → {row: "AB", number: 12}; null for anything else. */
export function parseSeatLabel(label: string): SeatLabel | null {
  const match = /^([A-Z]+)-(\d+)$/.exec(label);
  if (!match) return null;
  return { row: match[1] as string, number: Number(match[2]) };
}

/** Row letters in seating order: A, B, ..., Z, AA, AB (shorter first). */
export function compareRows(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

export interface SeatRow {
  row: string;
  seats: Array<Seat & { number: number }>;
}

/** The section's seats as rows of seats, both in order. */
export function seatRows(seats: ReadonlyArray<Seat>): SeatRow[] {
  const rows = new Map<string, Array<Seat & { number: number }>>();
  for (const seat of seats) {
    const label = parseSeatLabel(seat.seat_number);
    if (!label) continue;
    const row = rows.get(label.row) ?? [];
    row.push({ ...seat, number: label.number });
    rows.set(label.row, row);
  }
  return [...rows.entries()]
    .sort(([a], [b]) => compareRows(a, b))
    .map(([row, list]) => ({ row, seats: list.sort((x, y) => x.number - y.number) }));
}

export type ToggleOutcome =
  | { ok: true; selection: string[] }
  | { ok: false; selection: string[]; reason: 'unavailable' | 'limit' };

/**
 * The buyer clicks (or presses space on) a seat: a selected seat is let go; an available one is
 * added unless the order already has `max` seats; a held or sold one cannot be picked.
 */
export function toggleSeat(
  selection: ReadonlyArray<string>,
  seat: Seat,
  max: number = MAX_SEATS_PER_ORDER,
): ToggleOutcome {
  if (selection.includes(seat.seat_number)) {
    return { ok: true, selection: selection.filter((s) => s !== seat.seat_number) };
  }
  if (seat.status !== 'available') return { ok: false, selection: [...selection], reason: 'unavailable' };
  if (selection.length >= max) return { ok: false, selection: [...selection], reason: 'limit' };
  return { ok: true, selection: [...selection, seat.seat_number] };
}

/**
 * After the server's seats changed (a live update or a refusal): the selected seats that are
 * still free are kept; those someone else took are `lost` (the buyer is told).
 */
export function reconcileSelection(
  selection: ReadonlyArray<string>,
  seats: ReadonlyArray<Seat>,
): { selection: string[]; lost: string[] } {
  const status = new Map(seats.map((s) => [s.seat_number, s.status]));
  const kept: string[] = [];
  const lost: string[] = [];
  for (const label of selection) {
    if (status.get(label) === 'available') kept.push(label);
    else lost.push(label);
  }
  return { selection: kept, lost };
}

/** "A-12" → "Row A seat 12" (general admission has no label). */
export function seatName(label: string): string {
  const parsed = parseSeatLabel(label);
  return parsed ? `Row ${parsed.row} seat ${parsed.number}` : label;
}

/** Screen-reader words for a seat's state. */
export function seatStatusWords(status: string, selected: boolean): string {
  if (selected) return 'selected';
  if (status === 'available') return 'available';
  if (status === 'reserved') return 'held by another buyer';
  if (status === 'sold') return 'sold';
  return 'unavailable';
}

/** "Row A seat 12, available, €40.00" */
export function seatAriaLabel(label: string, status: string, selected: boolean, price: string): string {
  const name = seatName(label);
  const words = seatStatusWords(status, selected);
  return status === 'available' || selected ? `${name}, ${words}, ${price}` : `${name}, ${words}`;
}

/** Where the arrow keys go from (row, column) in a grid of rows of different lengths. */
export function moveFocus(
  rows: ReadonlyArray<{ seats: ReadonlyArray<unknown> }>,
  at: { row: number; col: number },
  key: string,
): { row: number; col: number } {
  const clampCol = (row: number, col: number) => Math.max(0, Math.min(col, (rows[row]?.seats.length ?? 1) - 1));
  switch (key) {
    case 'ArrowLeft':
      return { row: at.row, col: Math.max(0, at.col - 1) };
    case 'ArrowRight':
      return { row: at.row, col: clampCol(at.row, at.col + 1) };
    case 'ArrowUp': {
      const row = Math.max(0, at.row - 1);
      return { row, col: clampCol(row, at.col) };
    }
    case 'ArrowDown': {
      const row = Math.min(rows.length - 1, at.row + 1);
      return { row, col: clampCol(row, at.col) };
    }
    case 'Home':
      return { row: at.row, col: 0 };
    case 'End':
      return { row: at.row, col: clampCol(at.row, Number.MAX_SAFE_INTEGER) };
    default:
      return at;
  }
}

/** The GA stepper's bounds: 1 up to the per-order limit or what is left, whichever is smaller. */
export function quantityBounds(available: number, max: number = MAX_SEATS_PER_ORDER): { min: number; max: number } {
  const upper = Math.max(0, Math.min(max, available));
  return { min: upper > 0 ? 1 : 0, max: upper };
}

export function clampQuantity(value: number, available: number, max: number = MAX_SEATS_PER_ORDER): number {
  const bounds = quantityBounds(available, max);
  if (!Number.isFinite(value)) return bounds.min;
  return Math.max(bounds.min, Math.min(bounds.max, Math.round(value)));
}
