// Reads the mail the SMTP sink caught (JSON files written by the global setup's sink).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from '@playwright/test';
import type { StoredMail } from './smtp-sink';

function mailDir(): string {
  const dir = process.env.E2E_MAIL_DIR;
  if (!dir) throw new Error('E2E_MAIL_DIR is not set: run the stories through `npm run test:e2e`');
  return dir;
}

function mailsTo(address: string): StoredMail[] {
  const dir = mailDir();
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as StoredMail)
    .filter((m) => m.to.includes(address.toLowerCase()));
}

/**
 * The newest mail to `address` that arrived after `since` and, if given, has `subject` (waits
 * for it). The subject matters: a purchase's confirmation is mailed from the event log, some
 * time after the payment's answer, so it can land after a sign-in link asked for later.
 */
export async function newestMail(address: string, since: number, subject?: string): Promise<StoredMail> {
  let found: StoredMail | undefined;
  await expect
    .poll(
      () => {
        found = mailsTo(address)
          .filter((m) => m.receivedAt >= since && (subject === undefined || m.subject === subject))
          .at(-1);
        return found !== undefined;
      },
      { message: `a mail to ${address}${subject === undefined ? '' : ` titled "${subject}"`}`, timeout: 15_000, intervals: [100, 200, 500] },
    )
    .toBe(true);
  return found as StoredMail;
}

/** The subject of the server's magic-link mail. */
const SIGN_IN_SUBJECT = 'Your sign-in link';

/** The newest sign-in mail to `address` sent after `since` (waits for it). */
export async function newestSignInMail(address: string, since: number): Promise<StoredMail> {
  return newestMail(address, since, SIGN_IN_SUBJECT);
}

/** The sign-in link of a magic-link mail. */
export function signInLink(mail: StoredMail): string {
  const match = /(https?:\/\/\S+\/auth\/verify\S*)/.exec(mail.text);
  if (!match?.[1]) throw new Error(`no sign-in link in: ${mail.text}`);
  return match[1];
}

/** The one-time token of a magic-link mail. */
export function signInToken(mail: StoredMail): string {
  const match = /Token:\s*([0-9a-f]{64})/i.exec(mail.text) ?? /token=([0-9a-f]{64})/i.exec(mail.text);
  if (!match?.[1]) throw new Error(`no token in: ${mail.text}`);
  return match[1];
}
