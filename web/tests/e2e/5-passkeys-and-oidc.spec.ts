// Story 5: register a passkey with Chromium's virtual authenticator, sign out, sign in with it;
// sign in through the test OpenID provider.
import { test, expect, signInByMail, snap } from './support/fixtures';
import { uniqueEmail } from './support/backend';

test('a passkey is added, and signs the buyer in again', async ({ page, context }) => {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });

  const email = uniqueEmail('passkey');
  await page.goto('/signin?next=%2Faccount');
  await signInByMail(page, email);
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByText('You have no passkeys yet.')).toBeVisible();

  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await expect(page.getByText('Passkey added.')).toBeVisible();
  await expect(page.getByTestId('passkey')).toHaveCount(1);
  await snap(page, 'story5-passkey-added');

  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Account' })).toHaveCount(0);

  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await expect(page.getByRole('link', { name: 'Account' })).toBeVisible();
  await page.getByRole('link', { name: 'Account' }).click();
  await expect(page.getByTestId('account-email')).toHaveText(email);
  await expect(page.getByTestId('passkey')).toContainText('last used');

  const session = await page.evaluate(async () => (await fetch('/api/auth/session')).json());
  expect(session.user.email).toBe(email);
  expect(session.session_token).toBeUndefined();

  // Signed out again, the browser offers the passkey in the email field's autofill (conditional
  // UI); the virtual authenticator picks it at once, as a person picking it from the list would.
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: 'You are signed out.' })).toBeVisible();
  await page.getByLabel('Email', { exact: true }).focus();
  await expect(page.getByRole('link', { name: 'Account' })).toBeVisible();
});

test('a buyer signs in with the OpenID provider', async ({ page }) => {
  await page.goto('/signin?next=%2Faccount');
  await page.getByRole('link', { name: /Continue with Test/i }).click();
  await expect(page).toHaveURL(/\/account$/, { timeout: 20_000 });
  await expect(page.getByTestId('account-email')).toHaveText(process.env.E2E_OIDC_EMAIL ?? '');
});

test('a refused OpenID sign-in is explained', async ({ page }) => {
  await page.goto('/auth/callback?error=unverified_email');
  await expect(page.getByRole('alert')).toContainText('has not verified your email address');
  await expect(page).toHaveURL(/\/auth\/callback$/);
});
