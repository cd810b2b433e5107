// Story 11: the console is for organisers (door staff see the door only, customers a 403 page,
// signed-out visitors the sign-in page); every console page passes axe-core at a desktop width
// and at 360 px without scrolling sideways, and is photographed for a person to look at.
import type { Page } from '@playwright/test';
import { test, expect, expectAccessible, snap } from './support/fixtures';
import { STAFF_EMAIL, apiSignIn, uniqueEmail, useSession } from './support/backend';

test('who may open the console', async ({ browser, baseURL, playwright }) => {
  const request = await playwright.request.newContext({ baseURL });

  // Signed out: the sign-in page, which brings the visitor back afterwards.
  const anonymous = await browser.newContext();
  const out = await anonymous.newPage();
  await out.goto('/admin/analytics');
  await expect(out).toHaveURL(/\/signin\?next=%2Fadmin%2Fanalytics$/);
  await expect(out.getByRole('heading', { name: 'Sign in' })).toBeVisible();

  // A customer: the 403 page, on every console page.
  const customer = await browser.newContext();
  await useSession(customer, baseURL ?? '', await apiSignIn(request, uniqueEmail('curious')));
  const page = await customer.newPage();
  for (const path of ['/admin', '/admin/analytics', '/admin/checkin']) {
    await page.goto(path);
    await expect(page.getByRole('heading', { name: 'You don’t have access to this page' })).toBeVisible();
    await expect(page.getByText('This part of the site is for event organisers only.')).toBeVisible();
  }
  await expect(page.getByRole('link', { name: 'Organiser' })).toHaveCount(0);
  await expectAccessible(page, 'the 403 page');
  await snap(page, 'admin-403-1280');

  // Door staff: the door pages only.
  const staff = await browser.newContext();
  await useSession(staff, baseURL ?? '', await apiSignIn(request, STAFF_EMAIL));
  const door = await staff.newPage();
  await door.goto('/admin');
  await expect(door).toHaveURL(/\/admin\/checkin$/);
  await expect(door.getByRole('heading', { level: 1, name: 'Door check-in' })).toBeVisible();
  await expect(door.getByRole('navigation', { name: 'Organiser' }).getByRole('link')).toHaveText(['Door check-in']);
  await door.goto('/admin/analytics');
  await expect(door.getByText('Door staff can use the door check-in pages only.')).toBeVisible();
  await door.getByRole('link', { name: 'Door check-in' }).last().click();
  await expect(door).toHaveURL(/\/admin\/checkin$/);

  await Promise.all([anonymous.close(), customer.close(), staff.close()]);
  await request.dispose();
});

for (const width of [1280, 360]) {
  test(`every console page is accessible at ${width} px`, async ({ browser, admin, baseURL, playwright }) => {
    const event = await admin.createEvent(`Console Evening ${width} ${Date.now()}`, [
      { name: 'Orchestra', capacity: 40, seating: 'numbered', rows: 4, seats_per_row: 10, base_price_cents: 6500 },
      { name: 'Standing', capacity: 200, seating: 'general', base_price_cents: 2900 },
    ]);
    const draft = await admin.post<{ event_id: string }>(
      '/api/events',
      {
        name: `Draft Evening ${width} ${Date.now()}`,
        date: new Date(Date.now() + 90 * 86_400_000).toISOString(),
        category: 'theatre',
        venue: { name: 'Odéon', city: 'Paris' },
        sections: [{ name: 'Parterre', capacity: 80, seating: 'general', base_price_cents: 3500 }],
      },
      201,
    );
    const request = await playwright.request.newContext({ baseURL });
    const buyerEmail = uniqueEmail(`console${width}`);
    const buyer = await apiSignIn(request, buyerEmail);
    await buyer.buy(event.event_id, 'Orchestra', ['B-4', 'B-5']);
    await buyer.buy(event.event_id, 'Standing', 3);
    await buyer.post('/api/reservations', { event_id: event.event_id, section: 'Orchestra', quantity: 1, specific_seats: ['D-10'] }, 201);

    const viewport = { width, height: width < 500 ? 760 : 900 };
    const context = await browser.newContext({ viewport });
    await useSession(context, baseURL ?? '', admin);
    const page = await context.newPage();

    const check = async (p: Page, name: string) => {
      await expectAccessible(p, `${name} at ${width} px`);
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow, `${name} at ${width} px is wider than the screen`).toBeLessThanOrEqual(0);
      await snap(p, `admin-${name}-${width}`);
    };

    await test.step('events', async () => {
      await page.goto('/admin');
      await expect(page.getByTestId('event-row').first()).toBeVisible();
      await check(page, 'events');
      await page.goto('/admin?q=zzzz-nothing');
      await expect(page.getByRole('heading', { name: 'No events match' })).toBeVisible();
      await check(page, 'events-empty');
    });
    await test.step('new event', async () => {
      await page.goto('/admin/events/new');
      await page.getByRole('button', { name: 'Save draft' }).click();
      await expect(page.getByText('Give the event a name.')).toBeVisible();
      await check(page, 'event-new-invalid');
    });
    await test.step('edit a draft', async () => {
      await page.goto(`/admin/events/${draft.event_id}/edit`);
      await expect(page.getByLabel('Name', { exact: true }).first()).toHaveValue(/Draft Evening/);
      await check(page, 'event-edit');
    });
    await test.step('dashboard', async () => {
      await page.goto(`/admin/events/${event.event_id}`);
      await expect(page.getByTestId('figure-tickets-sold')).toHaveText('5');
      await expect(page.getByTestId('heat-Orchestra').locator('rect[data-status="sold"]')).toHaveCount(2);
      await check(page, 'dashboard');
      await page.getByRole('button', { name: 'Close sales' }).click();
      await expect(page.getByRole('dialog')).toBeVisible();
      await check(page, 'dashboard-confirm');
      await page.getByRole('button', { name: 'Go back' }).click();
    });
    await test.step('orders', async () => {
      await page.goto(`/admin/events/${event.event_id}/orders`);
      await expect(page.getByTestId('order-row')).toHaveCount(3);
      await page.getByTestId('order-row').filter({ hasText: 'Standing' }).getByRole('button', { name: /^Open/ }).click();
      await expect(page.getByTestId('payment-status')).toHaveText('Captured');
      await check(page, 'orders');
      await page.goto(`/admin/events/${event.event_id}/orders?email=nobody%40e2e.test`);
      await expect(page.getByRole('heading', { name: 'No orders match' })).toBeVisible();
      await check(page, 'orders-empty');
    });
    await test.step('analytics', async () => {
      await page.goto('/admin/analytics');
      await expect(page.getByTestId('top-sellers')).toBeVisible();
      await expect(page.getByTestId('segments')).toBeVisible();
      await expect(page.getByTestId('popularity')).toBeVisible();
      await expect(page.getByTestId('analytics-sales-total')).not.toHaveAttribute('data-total', '0', { timeout: 20_000 });
      await check(page, 'analytics');
      // Each dashboard downloads as CSV.
      const download = page.waitForEvent('download');
      await page.getByRole('button', { name: 'Download CSV of top-selling events' }).click();
      const file = await download;
      expect(file.suggestedFilename()).toBe('top-sellers.csv');
      const csv = await (await file.createReadStream()).toArray();
      expect(Buffer.concat(csv).toString('utf8')).toMatch(/^Event,Venue,Tickets sold,Capacity,Net revenue \(EUR\),Event id\r\n/);
    });
    await test.step('door', async () => {
      await page.goto('/admin/checkin');
      await page.getByRole('link', { name: event.name }).click();
      await expect(page.getByTestId('verdict')).toContainText('Ready');
      await check(page, 'door');
      await page.getByLabel('Ticket code').fill('not-a-ticket');
      await page.getByRole('button', { name: 'Check ticket' }).click();
      await expect(page.getByTestId('verdict')).toContainText('Not valid');
      await check(page, 'door-refused');
    });

    await context.close();
    await request.dispose();
  });
}
