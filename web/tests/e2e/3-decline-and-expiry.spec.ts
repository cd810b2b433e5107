// Story 3: a declined card shows its reason and the seats return; with a 5-second hold the
// countdown reaches zero and the page says the hold ended.
import { test, expect, snap } from './support/fixtures';
import { signInContext, uniqueEmail } from './support/backend';

test('a declined card shows why, and the seats go back on sale', async ({ page, context, admin, baseURL }) => {
  const event = await admin.createEvent(`Story Three Decline ${Date.now()}`, [
    { name: 'Circle', capacity: 8, seating: 'numbered', rows: 2, seats_per_row: 4, base_price_cents: 5000 },
  ]);
  await signInContext(context, baseURL ?? '', uniqueEmail('declined'));
  await page.goto(`/events/${event.event_id}`);
  await page.getByRole('button', { name: /^Row B seat 2, available/ }).click();
  await page.getByRole('button', { name: /^Row B seat 3, available/ }).click();
  await page.getByRole('button', { name: 'Hold 2 seats' }).click();
  await expect(page.getByTestId('held-seats')).toHaveText('Row B seat 2, Row B seat 3');

  await page.getByRole('button', { name: '4000 0000 0000 0002' }).click(); // the test-card hint fills the number
  await expect(page.getByLabel('Card number')).toHaveValue('4000 0000 0000 0002');
  await page.getByLabel('Expiry (MM/YY)').fill('11/33');
  await page.getByLabel('Security code (CVC)').fill('321');
  await page.getByRole('button', { name: /^Pay / }).click();

  const alert = page.getByRole('alert');
  await expect(alert).toContainText('Payment declined');
  await expect(alert).toContainText('Your card was declined by the bank.');
  await expect(alert).toContainText('Your seats were released');
  await expect(page.getByTestId('status')).toHaveText('Payment declined, seats released');
  await snap(page, 'story3-declined');

  // The seats are free again, on the map and on the server.
  await page.getByRole('link', { name: 'Choose seats again' }).click();
  await expect(page.getByRole('button', { name: /^Row B seat 2, available/ })).toBeVisible();
  await expect(page.getByRole('button', { name: /^Row B seat 3, available/ })).toBeVisible();
  const section = await admin.get<{ available: number; seats: Array<{ seat_number: string; status: string }> }>(
    `/api/events/${event.event_id}/sections/Circle`,
  );
  expect(section.seats.filter((s) => s.status !== 'available')).toEqual([]);
});

test('insufficient funds is explained too', async ({ page, context, admin, baseURL }) => {
  const event = await admin.createEvent(`Story Three Funds ${Date.now()}`, [
    { name: 'Lawn', capacity: 50, seating: 'general', base_price_cents: 2000 },
  ]);
  await signInContext(context, baseURL ?? '', uniqueEmail('funds'));
  await page.goto(`/events/${event.event_id}`);
  await page.getByRole('button', { name: 'One more' }).click();
  await expect(page.getByLabel('Number of tickets')).toHaveValue('2');
  await page.getByRole('button', { name: 'Hold 2 tickets' }).click();
  await expect(page.getByTestId('held-seats')).toHaveText('2 × general admission');
  await page.getByLabel('Card number').fill('4000000000009995');
  await page.getByLabel('Expiry (MM/YY)').fill('1133');
  await page.getByLabel('Security code (CVC)').fill('321');
  await page.getByRole('button', { name: /^Pay / }).click();
  await expect(page.getByRole('alert')).toContainText('The card has insufficient funds.');
  await expect.poll(async () => (await admin.get<{ available: number }>(`/api/events/${event.event_id}/sections/Lawn`)).available).toBe(50);
});

test.describe('with 5-second holds', () => {
  test.use({ server: 'short' });

  test('the countdown reaches zero and the page says the hold ended', async ({ page, context, admin, baseURL }) => {
    const event = await admin.createEvent(`Story Three Expiry ${Date.now()}`, [
      { name: 'Gallery', capacity: 6, seating: 'numbered', rows: 1, seats_per_row: 6, base_price_cents: 1500 },
    ]);
    await signInContext(context, baseURL ?? '', uniqueEmail('slow'));
    await page.goto(`/events/${event.event_id}`);
    await page.getByRole('button', { name: /^Row A seat 1, available/ }).click();
    await page.getByRole('button', { name: 'Hold 1 seat' }).click();

    const countdown = page.getByTestId('countdown');
    await expect(countdown).toHaveText(/^0:0[0-5]$/);
    await expect(countdown).toHaveText('0:00', { timeout: 10_000 });
    await expect(page.getByRole('heading', { name: 'Your hold has ended' })).toBeVisible();
    await expect(page.getByText('the seats went back on sale')).toBeVisible();
    await expect(page.getByLabel('Card number')).toHaveCount(0);
    await snap(page, 'story3-hold-ended');

    // The server agrees: the hold expired and the seat is free; "Try again" leads back.
    const id = page.url().split('/').pop() ?? '';
    await expect.poll(async () => (await admin.get<{ status: string }>(`/api/reservations/${id}`)).status, { timeout: 15_000 }).toBe('expired');
    await page.getByRole('link', { name: 'Try again' }).click();
    await expect(page.getByRole('button', { name: /^Row A seat 1, available/ })).toBeVisible();
  });
});
