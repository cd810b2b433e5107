import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseCode, toBase64Url, verifyCode, verifyEd25519, verifyWithNoble, type PublicKey } from '../../../src/lib/door/code';

const TICKET = '0b8f3c2e-1d4a-4f6b-9c0d-2e3f4a5b6c7d';
const EVENT = '6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

const uuidBytes = (id: string) => Uint8Array.from(Buffer.from(id.replace(/-/g, ''), 'hex'));

async function signer() {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  const keyId = Uint8Array.from(createHash('sha256').update(raw).digest().subarray(0, 4));
  const key: PublicKey = { key_id: toBase64Url(keyId), public_key: toBase64Url(raw) };
  const sign = async (seat: string | null, event = EVENT, ticket = TICKET) => {
    const seatBytes = new TextEncoder().encode(seat ?? '');
    const payload = new Uint8Array([1, ...keyId, ...uuidBytes(ticket), ...uuidBytes(event), 1, 2, 3, 4, 5, 6, 7, 8, seatBytes.length, ...seatBytes]);
    const signature = new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, pair.privateKey, payload));
    return toBase64Url(new Uint8Array([...payload, ...signature]));
  };
  return { key, sign };
}

describe('ticket codes at the door', () => {
  it('reads what a code says', async () => {
    const { key, sign } = await signer();
    const claims = parseCode(await sign('B-12'));
    expect(claims).toMatchObject({ keyId: key.key_id, ticketId: TICKET, eventId: EVENT, seat: 'B-12' });
    expect(parseCode(await sign(null))?.seat).toBeNull();
  });

  it('admits a genuine code of this event', async () => {
    const { key, sign } = await signer();
    const verdict = await verifyCode(await sign('A-3'), [key], EVENT.toUpperCase());
    expect(verdict.ok).toBe(true);
  });

  it('refuses forged, foreign, damaged and other events’ codes', async () => {
    const { key, sign } = await signer();
    const other = await signer();
    const code = await sign('A-3');
    const bytes = Uint8Array.from(Buffer.from(code, 'base64url'));
    bytes[10] = (bytes[10] ?? 0) ^ 1;
    expect(await verifyCode(toBase64Url(bytes), [key], EVENT)).toMatchObject({ ok: false, reason: 'bad_signature' });
    expect(await verifyCode(code, [other.key], EVENT)).toMatchObject({ ok: false, reason: 'unknown_key' });
    expect(await verifyCode('not-a-ticket', [key], EVENT)).toMatchObject({ ok: false, reason: 'malformed' });
    expect(await verifyCode(code.slice(0, -4), [key], EVENT)).toMatchObject({ ok: false });
    expect(await verifyCode('A'.repeat(300), [key], EVENT)).toMatchObject({ ok: false, reason: 'malformed' });
    expect(await verifyCode(await sign('A-3', '11111111-2222-4333-8444-555555555555'), [key], EVENT)).toMatchObject({
      ok: false,
      reason: 'another_event',
    });
  });

  it('verifies the same with WebCrypto and with @noble/ed25519', async () => {
    const { key, sign } = await signer();
    const claims = parseCode(await sign('C-1'));
    if (!claims) throw new Error('no claims');
    const raw = Uint8Array.from(Buffer.from(key.public_key, 'base64url'));
    expect(await verifyEd25519(raw, claims.signature, claims.payload)).toBe(true);
    expect(await verifyWithNoble(raw, claims.signature, claims.payload)).toBe(true);
    const altered = claims.payload.slice();
    altered[6] = (altered[6] ?? 0) ^ 1;
    expect(await verifyWithNoble(raw, claims.signature, altered)).toBe(false);
    expect(await verifyEd25519(raw, claims.signature, altered)).toBe(false);
  });
});
