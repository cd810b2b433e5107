import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../src/lib/api/api-error';
import { ScanQueue, syncQueue, type CheckInAnswer, type QueuedScan } from '../../../src/lib/door/queue';
import { invalidWords, seatWords } from '../../../src/lib/door/words';

class MemoryStore {
  data = new Map<string, string>();
  getItem(key: string) {
    return this.data.get(key) ?? null;
  }
  setItem(key: string, value: string) {
    this.data.set(key, value);
  }
}

const scan = (n: number): QueuedScan => ({ id: `s${n}`, code: `code${n}`, ticketId: `t${n}`, seat: `A-${n}`, scannedAt: `2030-01-01T20:0${n}:00Z` });
const transient = (e: unknown) => e instanceof ApiError && e.retryable;

describe('the offline queue', () => {
  it('keeps scans across page loads and remembers who got in', () => {
    const store = new MemoryStore();
    const queue = new ScanQueue(store, 'event');
    queue.add(scan(1));
    queue.rememberAdmitted('t9', '2030-01-01T19:00:00Z');
    const again = new ScanQueue(store, 'event');
    expect(again.pending).toEqual([scan(1)]);
    expect(again.admittedAt('t1')).toBe('2030-01-01T20:01:00Z');
    expect(again.admittedAt('t9')).toBe('2030-01-01T19:00:00Z');
    expect(new ScanQueue(store, 'other event').pending).toEqual([]);
    store.setItem('ticketing.door.broken', '{nope');
    expect(new ScanQueue(store, 'broken').pending).toEqual([]);
  });

  it('syncs oldest first and reports duplicates and refusals', async () => {
    const queue = new ScanQueue(new MemoryStore(), 'event');
    [1, 2, 3].forEach((n) => queue.add(scan(n)));
    const answers: Record<string, CheckInAnswer> = {
      code1: { result: 'admitted', first_admitted_at: '2030-01-01T20:01:00Z' },
      code2: { result: 'already_admitted', first_admitted_at: '2030-01-01T19:58:00Z' },
      code3: { result: 'invalid', reason: 'refunded' },
    };
    const sent: string[] = [];
    const result = await syncQueue(queue, async (s) => (sent.push(s.code), answers[s.code]!), transient);
    expect(sent).toEqual(['code1', 'code2', 'code3']);
    expect(result.interrupted).toBe(false);
    expect(result.reports.map((r) => [r.scan.id, r.outcome])).toEqual([
      ['s1', 'confirmed'],
      ['s2', 'duplicate'],
      ['s3', 'invalid'],
    ]);
    expect(result.reports[1]?.firstAdmittedAt).toBe('2030-01-01T19:58:00Z');
    expect(queue.pending).toEqual([]);
  });

  it('stops when the network fails and keeps the rest', async () => {
    const queue = new ScanQueue(new MemoryStore(), 'event');
    [1, 2].forEach((n) => queue.add(scan(n)));
    const result = await syncQueue(
      queue,
      async (s) => {
        if (s.id === 's2') throw ApiError.unreachable();
        return { result: 'admitted' };
      },
      transient,
    );
    expect(result).toMatchObject({ interrupted: true });
    expect(queue.pending.map((s) => s.id)).toEqual(['s2']);
  });

  it('drops a scan the server refuses outright', async () => {
    const queue = new ScanQueue(new MemoryStore(), 'event');
    queue.add(scan(1));
    const result = await syncQueue(queue, async () => Promise.reject(new ApiError(400, 'VALIDATION_FAILED', 'x')), transient);
    expect(result.reports[0]).toMatchObject({ outcome: 'invalid', reason: 'refused' });
    expect(queue.pending).toEqual([]);
  });
});

describe('door words', () => {
  it('says why a ticket is refused', () => {
    expect(invalidWords('refunded')).toBe('This ticket was refunded and no longer works.');
    expect(invalidWords('transferred')).toContain('given to someone else');
    expect(invalidWords('bad_signature')).toContain('forged');
    expect(invalidWords('whatever')).toBe('This ticket cannot be let in.');
    expect(seatWords('B-7')).toBe('Row B seat 7');
    expect(seatWords(null)).toBe('General admission');
  });
});
