// Story 2: two buyers pick the same seat; one gets it, the other is told and sees it turn
// unavailable; a third person watching the event sees the counts change within a second.
import { test, expect } from './support/fixtures';
import { signInContext, uniqueEmail } from './support/backend';

test('two buyers race for one seat and a watcher sees it live', async ({ browser, admin, baseURL }) => {
  const name = `Story Two Duel ${Date.now()}`;
  const event = await admin.createEvent(name, [
    { name: 'Stalls', capacity: 10, seating: 'numbered', rows: 2, seats_per_row: 5, base_price_cents: 3000 },
  ]);
  const url = `${baseURL}/events/${event.event_id}`;

  const contexts = await Promise.all([browser.newContext(), browser.newContext(), browser.newContext()]);
  const anonymous = await browser.newContext();
  const visitor = await anonymous.newPage();
  const [a, b, watcher] = await Promise.all(contexts.map((c) => c.newPage()));
  if (!a || !b || !watcher) throw new Error('pages');
  await Promise.all(contexts.map((c) => signInContext(c, baseURL ?? '', uniqueEmail('racer'))));

  // The watcher opens the event and sees all 10 seats free, live.
  await watcher.goto(url);
  await expect(watcher.getByText('Seat availability updates live')).toBeVisible();
  const watched = watcher.getByTestId('available-Stalls');
  await expect(watched).toContainText('10 of 10 left');
  // A signed-out visitor polls instead.
  await visitor.goto(url);
  await expect(visitor.getByText('Seat availability refreshes every few seconds')).toBeVisible();
  await expect(visitor.getByTestId('available-Stalls')).toContainText('10 of 10 left');

  // Both buyers pick seat A-1.
  for (const page of [a, b]) {
    await page.goto(url);
    await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
    await page.getByRole('button', { name: /^Row A seat 1, available/ }).click();
    await expect(page.getByRole('button', { name: /^Row A seat 1, selected/ })).toBeVisible();
  }

  // Both press "Hold" at the same moment.
  await Promise.all([a.getByRole('button', { name: 'Hold 1 seat' }).click(), b.getByRole('button', { name: 'Hold 1 seat' }).click()]);

  const isWinner = async (page: typeof a) => {
    await expect
      .poll(async () => /\/reservations\//.test(page.url()) || (await page.getByRole('alert').count()) > 0, { timeout: 10_000 })
      .toBe(true);
    return /\/reservations\//.test(page.url());
  };
  const [aWon, bWon] = await Promise.all([isWinner(a), isWinner(b)]);
  expect([aWon, bWon].filter(Boolean)).toHaveLength(1);
  const winner = aWon ? a : b;
  const loser = aWon ? b : a;
  const heldAt = Date.now();

  // The winner is at checkout; the loser is told, and the seat is unavailable on their map.
  await expect(winner.getByTestId('held-seats')).toHaveText('Row A seat 1');
  await expect(loser.getByRole('alert')).toContainText('row A seat 1 was just taken by someone else');
  const seat = loser.getByRole('button', { name: /^Row A seat 1, held by another buyer/ });
  await expect(seat).toBeVisible();
  await expect(seat).toHaveAttribute('aria-disabled', 'true');
  await expect(loser.getByText('No seats selected yet.')).toBeVisible();

  // The watcher's counts moved within a second of the hold.
  await expect(watched).toContainText('9 of 10 left', { timeout: 1000 });
  expect(Date.now() - heldAt).toBeLessThan(1500);
  await expect(watcher.getByRole('button', { name: /^Row A seat 1, held by another buyer/ })).toBeVisible();
  await expect(visitor.getByTestId('available-Stalls')).toContainText('9 of 10 left', { timeout: 5000 });

  // The server's truth: A-1 is held, once.
  const section = await admin.get<{ reserved: number; seats: Array<{ seat_number: string; status: string }> }>(
    `/api/events/${event.event_id}/sections/Stalls`,
  );
  expect(section.reserved).toBe(1);
  expect(section.seats.find((s) => s.seat_number === 'A-1')?.status).toBe('reserved');

  await Promise.all([...contexts, anonymous].map((c) => c.close()));
});

test('a seat taken while the buyer looks leaves their selection with a message', async ({ browser, admin, baseURL }) => {
  const event = await admin.createEvent(`Story Two Live ${Date.now()}`, [
    { name: 'Box', capacity: 4, seating: 'numbered', rows: 1, seats_per_row: 4, base_price_cents: 9000 },
  ]);
  const url = `${baseURL}/events/${event.event_id}`;
  const [looker, taker] = await Promise.all([browser.newContext(), browser.newContext()]);
  await Promise.all([signInContext(looker, baseURL ?? '', uniqueEmail('looker')), signInContext(taker, baseURL ?? '', uniqueEmail('taker'))]);
  const page = await looker.newPage();
  await page.goto(url);
  await expect(page.getByText('Seat availability updates live')).toBeVisible();
  await page.getByRole('button', { name: /^Row A seat 2, available/ }).click();
  await expect(page.getByRole('button', { name: /^Row A seat 2, selected/ })).toBeVisible();

  // Someone else holds A-2 through the API while the map is open.
  const response = await taker.request.post(`${baseURL}/api/reservations`, {
    headers: { origin: baseURL ?? '' },
    data: { event_id: event.event_id, section: 'Box', quantity: 1, specific_seats: ['A-2'] },
  });
  expect(response.status()).toBe(201);

  await expect(page.getByRole('alert')).toContainText('row A seat 2 was just taken by someone else and removed from your selection');
  await expect(page.getByRole('button', { name: /^Row A seat 2, held by another buyer/ })).toBeVisible();
  await expect(page.getByText('No seats selected yet.')).toBeVisible();
  await Promise.all([looker.close(), taker.close()]);
});

test('the buyer’s own hold, seen live before its answer, is not announced as taken by someone else', async ({
  browser,
  admin,
  baseURL,
}) => {
  const event = await admin.createEvent(`Story Two Own ${Date.now()}`, [
    { name: 'Box', capacity: 4, seating: 'numbered', rows: 1, seats_per_row: 4, base_price_cents: 9000 },
  ]);
  const context = await browser.newContext();
  await signInContext(context, baseURL ?? '', uniqueEmail('holder'));
  const page = await context.newPage();
  // Every alert the page ever shows, even one gone again by the time the test looks.
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { alertsSeen: string[] }).alertsSeen = seen;
    new MutationObserver(() => {
      for (const alert of document.querySelectorAll('[role="alert"]')) {
        const text = alert.textContent?.trim() ?? '';
        if (text && !seen.includes(text)) seen.push(text);
      }
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });
  let sectionReads = 0;
  let sectionReadsDone = 0;
  const isSectionRead = (url: string) => url.includes('/sections/Box');
  page.on('request', (request) => void (isSectionRead(request.url()) && (sectionReads += 1)));
  page.on('requestfinished', (request) => void (isSectionRead(request.url()) && (sectionReadsDone += 1)));

  await page.goto(`${baseURL}/events/${event.event_id}`);
  await expect(page.getByText('Seat availability updates live')).toBeVisible();
  await page.getByRole('button', { name: /^Row A seat 3, available/ }).click();

  // The hold's answer is held back until this page has shown the hold in its live counts and
  // finished whatever it read because of it: the order a busy server can produce.
  await page.route('**/api/reservations', async (route) => {
    const response = await route.fetch();
    await expect(page.getByTestId('available-Box')).toContainText('3 of 4 left');
    await expect.poll(() => sectionReadsDone >= sectionReads).toBe(true);
    await route.fulfill({ response });
  });
  await page.getByRole('button', { name: 'Hold 1 seat' }).click();

  await expect(page).toHaveURL(/\/reservations\//);
  await expect(page.getByTestId('held-seats')).toHaveText('Row A seat 3');
  expect(await page.evaluate(() => (window as unknown as { alertsSeen: string[] }).alertsSeen)).toEqual([]);
  await context.close();
});
