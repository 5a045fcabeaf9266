import { expect, test } from '@playwright/test';

test('welcome renders on the server and hydrates in the browser', async ({ page }) => {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));

  const response = await page.goto('/welcome');
  expect(response?.status()).toBe(200);
  await expect(page.getByTestId('session-status')).toHaveText('You are not signed in.');
  await expect(page).toHaveTitle('Welcome · Ward');

  // The theme switch only reacts once the wasm bundle is live; clicks before hydration do
  // nothing, so keep clicking until one takes effect.
  const html = page.locator('html');
  await expect(async () => {
    await page.getByTestId('theme-toggle').click();
    await expect(html).toHaveAttribute('data-theme', /^(light|dark)$/, { timeout: 500 });
  }).toPass({ timeout: 15_000 });

  // The choice survives a reload (kept in localStorage, applied after hydration).
  const chosen = await html.getAttribute('data-theme');
  await page.reload();
  await expect(html).toHaveAttribute('data-theme', chosen ?? '', { timeout: 15_000 });

  await page.screenshot({ path: 'test-results/welcome.png', fullPage: true });
  expect(errors).toEqual([]);
});

test('the theme stylesheet and site assets are served with their types', async ({ request }) => {
  for (const [path, type] of [
    ['/pkg/ward.css', 'text/css'],
    ['/pkg/ward.js', 'text/javascript'],
    ['/pkg/ward.wasm', 'application/wasm'],
    ['/favicon.svg', 'image/svg+xml'],
  ]) {
    const response = await request.get(path);
    expect(response.status(), path).toBe(200);
    expect(response.headers()['content-type'], path).toContain(type);
    expect(response.headers()['cache-control'], path).toBeTruthy();
  }
  const css = await (await request.get('/pkg/ward.css')).text();
  expect(css).toContain('--ward-color-accent');
});

test('unknown pages show the 404 page', async ({ page }) => {
  const response = await page.goto('/no-such-page');
  expect(response?.status()).toBe(404);
  await expect(page.getByTestId('not-found')).toBeVisible();
});

test('works without JavaScript', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto('/welcome');
  await expect(page.getByTestId('session-status')).toHaveText('You are not signed in.');
  await context.close();
});

test('the login page, HTML and CSS together, stays under 30 KB', async ({ request }) => {
  const page = await request.get('/login', { headers: { accept: 'text/html' } });
  expect(page.url()).toMatch(/\/login\?flow=/);
  const html = (await page.body()).length;
  const css = (await (await request.get('/pkg/ward.css')).body()).length;
  expect(html + css).toBeLessThan(30 * 1024);
});
