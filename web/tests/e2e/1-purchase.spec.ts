// Story 1: a buyer signs in by magic link from the mail the sink caught, browses, opens an
// event, picks two numbered seats (mouse and keyboard), watches the countdown, pays with the
// success card and sees two tickets with QR codes.
import { test, expect, signInByMail, snap } from './support/fixtures';
import { uniqueEmail } from './support/backend';

test('a buyer signs in, picks two seats, pays and gets two tickets', async ({ page, admin }) => {
  const name = `Story One Quartet ${Date.now()}`;
  const event = await admin.createEvent(name, [
    { name: 'Balcony', capacity: 18, seating: 'numbered', rows: 3, seats_per_row: 6, base_price_cents: 4000 },
    { name: 'Floor', capacity: 100, seating: 'general', base_price_cents: 2500 },
  ]);
  const price = event.sections.find((s) => s.name === 'Balcony')?.current_price_cents ?? 0;
  const euros = `€${(price / 100).toFixed(2)}`;
  const buyer = uniqueEmail('buyer');

  // This buyer's computer clock is 3 minutes fast: the hold countdown must follow the server's.
  await page.clock.install({ time: new Date(Date.now() + 3 * 60_000) });
  await page.clock.resume();

  // Sign in from the header, by the link in the mail.
  await page.goto('/');
  await page.getByRole('link', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await signInByMail(page, buyer);

  // Browse: find the event in the catalogue.
  await page.getByLabel('Search').fill('story one quartet');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page.getByRole('link', { name })).toBeVisible();
  await page.getByRole('link', { name }).click();
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();

  // Pick two seats: one by click, the next with the arrow key and space.
  await page.getByLabel(/Balcony/).check();
  const first = page.getByRole('button', { name: `Row A seat 3, available, ${euros}` });
  await first.click();
  await expect(page.getByRole('button', { name: `Row A seat 3, selected, ${euros}` })).toHaveAttribute('aria-pressed', 'true');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('Space');
  await expect(page.getByRole('button', { name: `Row A seat 4, selected, ${euros}` })).toBeVisible();
  await expect(page.getByText('2 seats:')).toBeVisible();
  await snap(page, 'story1-seats-picked');

  await page.getByRole('button', { name: 'Hold 2 seats' }).click();
  await expect(page).toHaveURL(/\/reservations\/[0-9a-f-]{36}$/);
  await expect(page.getByTestId('held-seats')).toHaveText('Row A seat 3, Row A seat 4');
  await expect(page.getByTestId('total')).toHaveText(`€${((2 * price) / 100).toFixed(2)}`);

  // The countdown runs, by the server's clock (the browser's would say under 2 minutes).
  const countdown = page.getByTestId('countdown');
  await expect(countdown).toHaveText(/^4:[3-5]\d$/);
  const shown = (await countdown.textContent())?.trim() ?? '';
  await expect(countdown).not.toHaveText(shown, { timeout: 3000 });

  // Pay with the success card.
  await page.getByLabel('Card number').fill('4242 4242 4242 4242');
  await page.getByLabel('Expiry (MM/YY)').fill('12/34');
  await page.getByLabel('Security code (CVC)').fill('123');
  await page.getByRole('button', { name: /^Pay / }).click();

  await expect(page.getByRole('heading', { name: 'You’re going!' })).toBeVisible();
  await expect(page.getByTestId('ticket')).toHaveCount(2);
  await expect(page.getByTestId('ticket-qr')).toHaveCount(2);
  await expect(page.getByRole('img', { name: /QR code of the ticket for Row A seat 3/ })).toBeVisible();
  await snap(page, 'story1-confirmation');

  // And in My tickets.
  await page.getByRole('link', { name: 'My tickets' }).first().click();
  await expect(page.getByTestId('ticket')).toHaveCount(2);

  // The server's truth: two valid tickets for those seats, the reservation completed.
  const truth = await page.evaluate(async () => {
    const tickets = await (await fetch('/api/tickets')).json();
    return tickets.tickets as Array<{ seat_number: string; status: string; reservation_id: string }>;
  });
  expect(truth.map((t) => t.seat_number).sort()).toEqual(['A-3', 'A-4']);
  const reservationId = truth[0]?.reservation_id ?? '';
  const reservation = await admin.get<{ status: string }>(`/api/reservations/${reservationId}`);
  expect(reservation.status).toBe('completed');
});
