// Story 4: transfer a ticket and the recipient sees it after signing in; cancel an order and see
// the refund the policy gives.
import { test, expect, signInByMail, snap } from './support/fixtures';
import { apiSignIn, uniqueEmail } from './support/backend';

test('a ticket is transferred and the recipient sees it', async ({ page, browser, admin, baseURL, playwright }) => {
  const event = await admin.createEvent(`Story Four Transfer ${Date.now()}`, [
    { name: 'Terrace', capacity: 12, seating: 'numbered', rows: 2, seats_per_row: 6, base_price_cents: 4500 },
  ]);
  const giver = uniqueEmail('giver');
  const friend = uniqueEmail('friend');
  const request = await playwright.request.newContext({ baseURL });
  const giverApi = await apiSignIn(request, giver);
  const order = await giverApi.buy(event.event_id, 'Terrace', ['A-1', 'A-2']);
  expect(order.status).toBe('completed');

  await page.goto('/signin?next=%2Ftickets');
  await signInByMail(page, giver);
  await expect(page).toHaveURL(/\/tickets$/);
  await expect(page.getByTestId('ticket')).toHaveCount(2);

  const ticket = page.getByTestId('ticket').filter({ hasText: 'Row A seat 2' });
  await ticket.getByRole('button', { name: 'Transfer ticket' }).click();
  await ticket.getByLabel('Recipient’s email').fill(friend);
  await snap(page, 'story4-transfer-form');
  await ticket.getByRole('button', { name: 'Send ticket' }).click();
  await expect(page.getByRole('status').filter({ hasText: `was sent to ${friend}` })).toBeVisible();
  await expect(page.getByTestId('ticket')).toHaveCount(1);

  // The friend signs in (a new browser) and sees the ticket.
  const other = await browser.newContext();
  const friendPage = await other.newPage();
  await friendPage.goto(`${baseURL}/signin?next=%2Ftickets`);
  await signInByMail(friendPage, friend);
  await expect(friendPage).toHaveURL(/\/tickets$/);
  await expect(friendPage.getByTestId('ticket')).toHaveCount(1);
  await expect(friendPage.getByTestId('ticket')).toContainText('Row A seat 2');
  await expect(friendPage.getByTestId('ticket-qr')).toBeVisible();

  // The server's truth.
  const friendApi = await apiSignIn(request, friend);
  const theirs = await friendApi.get<{ tickets: Array<{ seat_number: string }> }>('/api/tickets');
  expect(theirs.tickets.map((t) => t.seat_number)).toEqual(['A-2']);
  const mine = await giverApi.get<{ tickets: Array<{ seat_number: string }> }>('/api/tickets');
  expect(mine.tickets.map((t) => t.seat_number)).toEqual(['A-1']);
  await other.close();
  await request.dispose();
});

test('an order is cancelled with the refund shown first', async ({ page, admin, baseURL, playwright }) => {
  // Five days ahead: the policy refunds 50 %.
  const event = await admin.createEvent(
    `Story Four Cancel ${Date.now()}`,
    [{ name: 'Pit', capacity: 40, seating: 'general', base_price_cents: 5000 }],
    5,
  );
  const buyer = uniqueEmail('canceller');
  const request = await playwright.request.newContext({ baseURL });
  const api = await apiSignIn(request, buyer);
  const order = await api.buy(event.event_id, 'Pit', 2);
  const half = Math.round(order.total_amount_cents / 2);
  const money = (cents: number) => `€${(cents / 100).toFixed(2)}`;

  await page.goto('/signin?next=%2Freservations');
  await signInByMail(page, buyer);
  await expect(page).toHaveURL(/\/reservations$/);
  const card = page.getByTestId('order').filter({ hasText: event.name });
  await expect(card.getByTestId('order-status')).toHaveText('Paid');
  await card.getByRole('button', { name: 'Cancel order' }).click();

  const dialog = page.getByRole('dialog', { name: 'Cancel this order?' });
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText('50 %');
  await expect(dialog.getByTestId('refund-preview')).toHaveText(money(half));
  await snap(page, 'story4-cancel-dialog');
  await dialog.getByRole('button', { name: `Cancel and refund ${money(half)}` }).click();

  await expect(card.getByRole('status')).toContainText(`${money(half)} is refunded to your card`);
  await expect(card.getByTestId('order-status')).toHaveText('Refunded');
  await expect(card.getByTestId('refunded')).toHaveText(money(half));
  await card.getByRole('button', { name: 'Show history' }).click();
  await expect(card.getByText('Cancelled and refunded')).toBeVisible();

  const payment = await api.get<{ refunded_cents: number }>(`/api/payments/${order.payment_id}`);
  expect(payment.refunded_cents).toBe(half);
  await request.dispose();
});
