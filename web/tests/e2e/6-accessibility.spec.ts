// Story 6: every page passes axe-core with no serious or critical violation, at a desktop width
// and at 360 px; a screenshot of each is written to test-results/screenshots/ for a person to see.
import type { Page } from '@playwright/test';
import { test, expect, expectAccessible, snap } from './support/fixtures';
import { apiSignIn, signInContext, uniqueEmail, type ApiReservation } from './support/backend';

for (const width of [1280, 360]) {
  test(`every page is accessible at ${width} px`, async ({ browser, admin, baseURL, playwright }) => {
    const event = await admin.createEvent(`Accessible Evening ${width}`, [
      { name: 'Orchestra', capacity: 40, seating: 'numbered', rows: 4, seats_per_row: 10, base_price_cents: 6500 },
      { name: 'Standing', capacity: 200, seating: 'general', base_price_cents: 2900 },
    ]);
    const buyer = uniqueEmail(`a11y${width}`);
    const request = await playwright.request.newContext({ baseURL });
    const api = await apiSignIn(request, buyer);
    const paid = await api.buy(event.event_id, 'Orchestra', ['B-4', 'B-5']);
    const held = await api.post<ApiReservation>('/api/reservations', { event_id: event.event_id, section: 'Orchestra', quantity: 1, specific_seats: ['D-10'] }, 201);

    const viewport = { width, height: width < 500 ? 760 : 900 };
    const anonymous = await browser.newContext({ viewport });
    const signedIn = await browser.newContext({ viewport });
    const fresh = await browser.newContext({ viewport });
    await signInContext(signedIn, baseURL ?? '', buyer);
    await signInContext(fresh, baseURL ?? '', uniqueEmail('newcomer'));
    const out = await anonymous.newPage();
    const page = await signedIn.newPage();
    const empty = await fresh.newPage();

    const check = async (p: Page, name: string) => {
      await expectAccessible(p, `${name} at ${width} px`);
      // Usable at this width: nothing makes the page scroll sideways (the seat map scrolls inside itself).
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow, `${name} at ${width} px is wider than the screen`).toBeLessThanOrEqual(0);
      await snap(p, `${name}-${width}`);
    };

    await test.step('catalogue', async () => {
      await out.goto('/');
      await expect(out.getByRole('link', { name: event.name })).toBeVisible();
      await check(out, 'catalogue');
    });
    await test.step('catalogue, nothing matches', async () => {
      await out.goto('/?q=zzzz-nothing');
      await expect(out.getByRole('heading', { name: 'No events match your search' })).toBeVisible();
      await check(out, 'catalogue-empty');
    });
    await test.step('event, signed out', async () => {
      await out.goto(`/events/${event.event_id}`);
      await out.getByLabel(/Orchestra/).check();
      await expect(out.getByRole('button', { name: /^Row A seat 1, available/ })).toBeVisible();
      await check(out, 'event-signed-out');
    });
    await test.step('sign-in', async () => {
      await out.goto('/signin');
      await expect(out.getByRole('button', { name: 'Email me a sign-in link' })).toBeVisible();
      await check(out, 'signin');
      await out.getByLabel('Email', { exact: true }).fill(uniqueEmail('mailcheck'));
      await out.getByRole('button', { name: 'Email me a sign-in link' }).click();
      await expect(out.getByRole('heading', { name: 'Check your mail' })).toBeVisible();
      await check(out, 'signin-check-mail');
    });
    await test.step('not found', async () => {
      await out.goto('/no/such/page');
      await expect(out.getByRole('heading', { name: 'Page not found' })).toBeVisible();
      await check(out, 'not-found');
      await out.goto('/events/00000000-0000-4000-8000-000000000000');
      await expect(out.getByRole('heading', { name: 'Event not found' })).toBeVisible();
      await check(out, 'event-not-found');
    });
    await test.step('event, seats picked', async () => {
      await page.goto(`/events/${event.event_id}`);
      await page.getByLabel(/Orchestra/).check();
      await page.getByRole('button', { name: /^Row C seat 5, available/ }).click();
      await page.getByRole('button', { name: /^Row C seat 6, available/ }).click();
      await expect(page.getByRole('button', { name: 'Hold 2 seats' })).toBeEnabled();
      await check(page, 'event-seats');
      await page.getByLabel(/Standing/).check();
      await expect(page.getByLabel('Number of tickets')).toBeVisible();
      await check(page, 'event-general-admission');
    });
    await test.step('checkout', async () => {
      await page.goto(`/reservations/${held.reservation_id}`);
      await expect(page.getByTestId('countdown')).toBeVisible();
      await check(page, 'checkout');
      await page.getByRole('button', { name: /^Pay / }).click();
      await expect(page.getByText('Enter the 16 digits')).toBeVisible();
      await check(page, 'checkout-invalid');
    });
    await test.step('confirmation', async () => {
      await page.goto(`/reservations/${paid.reservation_id}`);
      await expect(page.getByTestId('ticket-qr')).toHaveCount(2);
      await check(page, 'confirmation');
    });
    await test.step('my tickets', async () => {
      await page.goto('/tickets');
      await expect(page.getByTestId('ticket')).toHaveCount(2);
      await page.getByTestId('ticket').first().getByRole('button', { name: 'Transfer ticket' }).click();
      await check(page, 'tickets');
      await empty.goto('/tickets');
      await expect(empty.getByRole('heading', { name: 'No tickets yet' })).toBeVisible();
      await check(empty, 'tickets-empty');
    });
    await test.step('my orders', async () => {
      await page.goto('/reservations');
      await expect(page.getByTestId('order')).toHaveCount(2);
      await page.getByTestId('order').filter({ hasText: 'Paid' }).getByRole('button', { name: 'Show history' }).click();
      await expect(page.getByText('Paid, tickets issued')).toBeVisible();
      await check(page, 'orders');
      await page.getByTestId('order').filter({ hasText: 'Paid' }).getByRole('button', { name: 'Cancel order' }).click();
      await expect(page.getByRole('dialog')).toBeVisible();
      await check(page, 'orders-cancel-dialog');
      await page.getByRole('button', { name: 'Keep my order' }).click();
      await empty.goto('/reservations');
      await expect(empty.getByRole('heading', { name: 'No orders yet' })).toBeVisible();
      await check(empty, 'orders-empty');
    });
    await test.step('account', async () => {
      await page.goto('/account');
      await expect(page.getByTestId('account-email')).toHaveText(buyer);
      await expect(page.getByTestId('ltv-spent')).toBeVisible();
      await check(page, 'account');
    });
    await test.step('signed out, private pages', async () => {
      await out.goto('/tickets');
      await expect(out.getByRole('heading', { name: 'Please sign in' })).toBeVisible();
      await check(out, 'tickets-signed-out');
    });
    await test.step('API down', async () => {
      await out.route('**/api/**', (route) => route.abort('connectionrefused'));
      await out.goto('/');
      await expect(out.getByRole('heading', { name: 'We can’t reach the ticketing service' })).toBeVisible();
      await check(out, 'api-down');
      await out.unroute('**/api/**');
    });

    await Promise.all([anonymous.close(), signedIn.close(), fresh.close()]);
    await request.dispose();
  });
}
