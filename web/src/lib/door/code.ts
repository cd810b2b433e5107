// Ticket codes as the door reads them, and their signatures checked without the server.
//
// A code is base64url(payload ‖ 64-byte Ed25519 signature of the payload); the payload is
// version (1) = 1 ‖ key id (4) ‖ ticket id (16) ‖ event id (16) ‖ owner tag (8) ‖ seat length (1)
// ‖ seat label (UTF-8). The public keys come from GET /api/checkin/key. Whether a ticket was
// refunded, given away or already let in only the server knows: offline, the door can tell a real
// code of this event from anything else, and remember what it let in itself.
import { verifyAsync } from '@noble/ed25519';

const VERSION = 1;
const SIGNATURE_LEN = 64;
const FIXED_LEN = 1 + 4 + 16 + 16 + 8 + 1;
const MAX_SEAT_LEN = 16;
const MAX_CODE_LEN = 256;

export interface PublicKey {
  key_id: string;
  public_key: string;
}

export interface Claims {
  keyId: string;
  ticketId: string;
  eventId: string;
  seat: string | null;
  payload: Uint8Array;
  signature: Uint8Array;
}

export type LocalReason = 'malformed' | 'unknown_key' | 'bad_signature' | 'another_event';

export type LocalVerdict = { ok: true; claims: Claims } | { ok: false; reason: LocalReason; claims?: Claims };

/** base64url (padding optional) → bytes, or null. */
export function fromBase64Url(text: string): Uint8Array | null {
  const clean = text.trim().replace(/=+$/, '');
  if (!/^[A-Za-z0-9_-]*$/.test(clean) || clean.length % 4 === 1) return null;
  const base64 = clean.replace(/-/g, '+').replace(/_/g, '/');
  try {
    const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

export function toBase64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function uuid(bytes: Uint8Array): string {
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** What a code says (not yet whether it is genuine), or null when it is not a ticket code. */
export function parseCode(code: string): Claims | null {
  if (code.length > MAX_CODE_LEN) return null;
  const bytes = fromBase64Url(code);
  if (!bytes || bytes.length < FIXED_LEN + SIGNATURE_LEN || bytes[0] !== VERSION) return null;
  const payload = bytes.slice(0, bytes.length - SIGNATURE_LEN);
  const signature = bytes.slice(bytes.length - SIGNATURE_LEN);
  const seatLen = payload[FIXED_LEN - 1] ?? 0;
  if (seatLen > MAX_SEAT_LEN || payload.length !== FIXED_LEN + seatLen) return null;
  let seat: string;
  try {
    seat = new TextDecoder('utf-8', { fatal: true }).decode(payload.slice(FIXED_LEN));
  } catch {
    return null;
  }
  return {
    keyId: toBase64Url(payload.slice(1, 5)),
    ticketId: uuid(payload.slice(5, 21)),
    eventId: uuid(payload.slice(21, 37)),
    seat: seat || null,
    payload,
    signature,
  };
}

export type Verify = (publicKey: Uint8Array, signature: Uint8Array, message: Uint8Array) => Promise<boolean>;

/** Ed25519 by WebCrypto where the browser has it; otherwise @noble/ed25519 (4 KB, door pages only). */
export const verifyEd25519: Verify = async (publicKey, signature, message) => {
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey('raw', publicKey as BufferSource, { name: 'Ed25519' }, false, ['verify']);
  } catch {
    // This browser's WebCrypto has no Ed25519 (or no WebCrypto outside a secure context).
    return verifyWithNoble(publicKey, signature, message);
  }
  return crypto.subtle.verify({ name: 'Ed25519' }, key, signature as BufferSource, message as BufferSource);
};

export const verifyWithNoble: Verify = async (publicKey, signature, message) => {
  try {
    return await verifyAsync(signature, message, publicKey);
  } catch {
    return false;
  }
};

/** Checks a scanned code for this event with the published keys, without the server. */
export async function verifyCode(
  code: string,
  keys: ReadonlyArray<PublicKey>,
  eventId: string,
  verify: Verify = verifyEd25519,
): Promise<LocalVerdict> {
  const claims = parseCode(code.trim());
  if (!claims) return { ok: false, reason: 'malformed' };
  const key = keys.find((k) => k.key_id === claims.keyId);
  const raw = key ? fromBase64Url(key.public_key) : null;
  if (!raw || raw.length !== 32) return { ok: false, reason: 'unknown_key', claims };
  if (!(await verify(raw, claims.signature, claims.payload))) return { ok: false, reason: 'bad_signature', claims };
  if (claims.eventId !== eventId.toLowerCase()) return { ok: false, reason: 'another_event', claims };
  return { ok: true, claims };
}
