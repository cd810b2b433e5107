import { describe, expect, it } from 'vitest';
import { ActionKey, ApiError, run } from '../../src/lib/api/client';

const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
  const response = new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
  return status < 300 ? { data: body, response } : { error: body, response };
};

describe('run', () => {
  it('returns the data of a success', async () => {
    await expect(run(Promise.resolve(answer(200, { ok: 1 })))).resolves.toEqual({ ok: 1 });
  });

  it('maps the error envelope to one ApiError', async () => {
    const refused = run(Promise.resolve(answer(409, { code: 'SEAT_UNAVAILABLE', message: 'taken', details: { seats: ['A-1'] } })));
    await expect(refused).rejects.toBeInstanceOf(ApiError);
    await expect(refused).rejects.toMatchObject({ status: 409, code: 'SEAT_UNAVAILABLE', details: { seats: ['A-1'] } });
  });

  it('turns a network failure into the distinct unreachable error', async () => {
    const offline = run(Promise.reject(new TypeError('Failed to fetch')));
    await expect(offline).rejects.toMatchObject({ code: 'NETWORK_UNREACHABLE', status: 0, unreachable: true });
  });
});

describe('ActionKey', () => {
  it('keeps the key while the same action is retried, and renews it once settled', () => {
    const key = new ActionKey();
    const first = key.value;
    expect(first).toMatch(/^[0-9a-f-]{32,36}$/);
    key.settle(ApiError.unreachable());
    expect(key.value).toBe(first);
    key.settle(new ApiError(503, 'DEPENDENCY_UNAVAILABLE', 'x'));
    expect(key.value).toBe(first);
    key.settle(new ApiError(409, 'SEAT_UNAVAILABLE', 'x'));
    expect(key.value).not.toBe(first);
    const second = key.value;
    key.settle();
    expect(key.value).not.toBe(second);
  });
});
