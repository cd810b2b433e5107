import { describe, expect, it } from 'vitest';
import {
  clampQuantity,
  moveFocus,
  parseSeatLabel,
  quantityBounds,
  reconcileSelection,
  seatAriaLabel,
  seatRows,
  toggleSeat,
} from '../../src/lib/seats';

const seat = (seat_number: string, status = 'available') => ({ seat_number, status });

describe('seat labels', () => {
  it('parses row letters and seat numbers', () => {
    expect(parseSeatLabel('A-12')).toEqual({ row: 'A', number: 12 });
    expect(parseSeatLabel('AB-3')).toEqual({ row: 'AB', number: 3 });
    expect(parseSeatLabel('12')).toBeNull();
    expect(parseSeatLabel('a-1')).toBeNull();
  });

  it('groups seats into ordered rows', () => {
    const rows = seatRows([seat('B-2'), seat('AA-1'), seat('A-10'), seat('A-2'), seat('B-1'), seat('Z-1')]);
    expect(rows.map((r) => r.row)).toEqual(['A', 'B', 'Z', 'AA']);
    expect(rows[0]?.seats.map((s) => s.number)).toEqual([2, 10]);
  });

  it('labels a seat for screen readers', () => {
    expect(seatAriaLabel('A-12', 'available', false, '€40.00')).toBe('Row A seat 12, available, €40.00');
    expect(seatAriaLabel('A-12', 'available', true, '€40.00')).toBe('Row A seat 12, selected, €40.00');
    expect(seatAriaLabel('C-3', 'reserved', false, '€40.00')).toBe('Row C seat 3, held by another buyer');
    expect(seatAriaLabel('C-3', 'sold', false, '€40.00')).toBe('Row C seat 3, sold');
  });
});

describe('toggleSeat', () => {
  it('adds a free seat and removes a selected one', () => {
    const first = toggleSeat([], seat('A-1'));
    expect(first).toEqual({ ok: true, selection: ['A-1'] });
    expect(toggleSeat(first.selection, seat('A-1'))).toEqual({ ok: true, selection: [] });
  });

  it('refuses held and sold seats', () => {
    expect(toggleSeat(['A-1'], seat('A-2', 'reserved'))).toEqual({ ok: false, selection: ['A-1'], reason: 'unavailable' });
    expect(toggleSeat([], seat('A-2', 'sold'))).toMatchObject({ ok: false, reason: 'unavailable' });
  });

  it('lets a selected seat go even if it has since been taken', () => {
    expect(toggleSeat(['A-1'], seat('A-1', 'reserved'))).toEqual({ ok: true, selection: [] });
  });

  it('stops at 8 seats per order', () => {
    const eight = Array.from({ length: 8 }, (_, i) => `A-${i + 1}`);
    expect(toggleSeat(eight, seat('A-9'))).toEqual({ ok: false, selection: eight, reason: 'limit' });
    expect(toggleSeat(eight.slice(0, 7), seat('A-9'))).toMatchObject({ ok: true });
    expect(toggleSeat(['A-1', 'A-2'], seat('A-3'), 2)).toMatchObject({ ok: false, reason: 'limit' });
  });
});

describe('reconcileSelection', () => {
  it('keeps free seats and reports the ones someone else took', () => {
    const seats = [seat('A-1'), seat('A-2', 'reserved'), seat('A-3', 'sold'), seat('A-4')];
    expect(reconcileSelection(['A-1', 'A-2', 'A-3'], seats)).toEqual({ selection: ['A-1'], lost: ['A-2', 'A-3'] });
    expect(reconcileSelection(['A-4'], seats)).toEqual({ selection: ['A-4'], lost: [] });
  });

  it('treats a seat that disappeared as lost', () => {
    expect(reconcileSelection(['Q-1'], [seat('A-1')])).toEqual({ selection: [], lost: ['Q-1'] });
  });
});

describe('keyboard movement', () => {
  const rows = [{ seats: [1, 2, 3] }, { seats: [1, 2] }, { seats: [1, 2, 3, 4] }];
  it('moves within and between rows, clamped to the grid', () => {
    expect(moveFocus(rows, { row: 0, col: 0 }, 'ArrowRight')).toEqual({ row: 0, col: 1 });
    expect(moveFocus(rows, { row: 0, col: 2 }, 'ArrowRight')).toEqual({ row: 0, col: 2 });
    expect(moveFocus(rows, { row: 0, col: 0 }, 'ArrowLeft')).toEqual({ row: 0, col: 0 });
    expect(moveFocus(rows, { row: 0, col: 2 }, 'ArrowDown')).toEqual({ row: 1, col: 1 });
    expect(moveFocus(rows, { row: 2, col: 3 }, 'ArrowDown')).toEqual({ row: 2, col: 3 });
    expect(moveFocus(rows, { row: 2, col: 3 }, 'ArrowUp')).toEqual({ row: 1, col: 1 });
    expect(moveFocus(rows, { row: 2, col: 1 }, 'End')).toEqual({ row: 2, col: 3 });
    expect(moveFocus(rows, { row: 2, col: 3 }, 'Home')).toEqual({ row: 2, col: 0 });
    expect(moveFocus(rows, { row: 1, col: 1 }, 'Tab')).toEqual({ row: 1, col: 1 });
  });
});

describe('general admission quantity', () => {
  it('is bounded by what is left and the per-order limit', () => {
    expect(quantityBounds(100)).toEqual({ min: 1, max: 8 });
    expect(quantityBounds(3)).toEqual({ min: 1, max: 3 });
    expect(quantityBounds(0)).toEqual({ min: 0, max: 0 });
    expect(clampQuantity(12, 100)).toBe(8);
    expect(clampQuantity(5, 3)).toBe(3);
    expect(clampQuantity(0, 3)).toBe(1);
    expect(clampQuantity(Number.NaN, 3)).toBe(1);
    expect(clampQuantity(2.6, 10)).toBe(3);
  });
});
