import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/lib/backoff';

describe('backoffDelay', () => {
  it('doubles per attempt with jitter in the upper half', () => {
    expect(backoffDelay(0, 0)).toBe(250);
    expect(backoffDelay(0, 1)).toBe(500);
    expect(backoffDelay(3, 0)).toBe(2000);
    expect(backoffDelay(3, 1)).toBe(4000);
  });

  it('is capped', () => {
    expect(backoffDelay(20, 1)).toBe(30_000);
    expect(backoffDelay(20, 0)).toBe(15_000);
  });
});
