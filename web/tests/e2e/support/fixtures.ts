// The stories' `test`: baseURL from the running servers, an admin API session, and helpers for
// what every story does (sign in through the real mail, look at the page, check accessibility).
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { test as base, expect, type Page } from '@playwright/test';
import { ADMIN_EMAIL, ApiSession, apiSignIn } from './backend';
import { newestSignInMail, signInLink } from './mailbox';

export { expect };

interface Options {
  /** `main` (5-minute holds) or `short` (5-second holds). */
  server: 'main' | 'short';
}

interface Fixtures {
  admin: ApiSession;
  /** Fails a story whose page broke the Content-Security-Policy or threw an uncaught error. */
  pageGuard: void;
}

interface WorkerFixtures {
  /** Admin session tokens by server URL: magic links are limited per address, so one per run. */
  adminTokens: Map<string, string>;
}

export const test = base.extend<Options & Fixtures, WorkerFixtures>({
  // Playwright reads the fixtures a function needs from its destructuring pattern: none here.
  // eslint-disable-next-line no-empty-pattern
  adminTokens: [async ({}, use) => use(new Map()), { scope: 'worker' }],
  server: ['main', { option: true }],
  baseURL: async ({ server }, use) => {
    const url = server === 'short' ? process.env.E2E_SHORT_URL : process.env.E2E_MAIN_URL;
    if (!url) throw new Error('the servers are not running: use `npm run test:e2e`');
    await use(url);
  },
  pageGuard: [
    async ({ context }, use) => {
      const problems: string[] = [];
      context.on('console', (message) => {
        if (/Content[- ]Security[- ]Policy/i.test(message.text())) problems.push(message.text());
      });
      context.on('weberror', (error) => problems.push(`uncaught: ${error.error().message}`));
      await use();
      expect(problems, 'CSP violations or uncaught errors in the page').toEqual([]);
    },
    { auto: true },
  ],
  admin: async ({ playwright, baseURL, adminTokens }, use) => {
    const request = await playwright.request.newContext({ baseURL });
    const known = adminTokens.get(baseURL ?? '');
    const session = known ? new ApiSession(request, known, ADMIN_EMAIL) : await apiSignIn(request, ADMIN_EMAIL);
    adminTokens.set(baseURL ?? '', session.token);
    await use(session);
    await request.dispose();
  },
});

/** Signs in as a person does: the sign-in page, the mail, the link. Ends signed in on `next`. */
export async function signInByMail(page: Page, email: string): Promise<void> {
  await page.getByLabel('Email', { exact: true }).fill(email);
  const since = Date.now();
  await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
  await expect(page.getByRole('heading', { name: 'Check your mail' })).toBeVisible();
  const link = signInLink(await newestSignInMail(email, since));
  await page.goto(link);
  await expect(page.getByRole('link', { name: 'Account' })).toBeVisible();
}

const screenshotDir = resolve(import.meta.dirname, '../../../test-results/screenshots');

/** What a buyer sees, kept for a person to look at. */
export async function snap(page: Page, name: string): Promise<void> {
  mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: resolve(screenshotDir, `${name}.png`), fullPage: true, animations: 'disabled' });
}

/** No serious or critical axe-core violation on the page as it is now. */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']).analyze();
  const bad = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join('\n    ')}`);
  expect(bad, `accessibility of ${what}`).toEqual([]);
}
