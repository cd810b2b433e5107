// Story 7: with the API down the app explains instead of going blank; an unknown route shows a
// 404 page.
import { test, expect } from './support/fixtures';

test('the API is down: a friendly error, and a retry that works once it is back', async ({ page }) => {
  let down = true;
  await page.route('**/api/**', (route) => (down ? route.abort('connectionrefused') : route.continue()));
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Upcoming events' })).toBeVisible();
  const alert = page.getByRole('alert');
  await expect(alert).toContainText('We can’t reach the ticketing service');
  await expect(alert).toContainText('Check your internet connection');
  await expect(alert.getByRole('heading', { name: 'We can’t reach the ticketing service' })).toBeVisible();

  down = false;
  await alert.getByRole('button', { name: 'Try again' }).click();
  await expect(page.getByRole('alert')).toHaveCount(0);
  await expect(page.getByRole('heading', { name: 'No upcoming events yet' }).or(page.getByText(/^\d+ events?/)).first()).toBeVisible();
});

test('the API answers 503: the buyer is told to try again', async ({ page }) => {
  await page.route('**/api/events**', (route) =>
    route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ code: 'DEPENDENCY_UNAVAILABLE', message: 'x', details: { dependency: 'projections_db' } }) }),
  );
  await page.goto('/');
  await expect(page.getByRole('alert')).toContainText('briefly unavailable');
});

test('an unknown route shows a 404 page', async ({ page }) => {
  const response = await page.goto('/this/page/does-not-exist');
  expect(response?.status()).toBe(200); // the server falls back to the app, which shows the 404
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
  await expect(page.getByText('/this/page/does-not-exist')).toBeVisible();
  await page.getByRole('link', { name: 'Browse events' }).click();
  await expect(page.getByRole('heading', { name: 'Upcoming events' })).toBeVisible();
});
