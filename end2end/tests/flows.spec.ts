import { expect, test } from '@playwright/test';
import { uniqueEmail } from './env';
import { fillProfile, password, signIn, signUp } from './helpers';

test('sign up, sign out, sign in, wrong password', async ({ page }) => {
  const email = uniqueEmail('journey');
  await signUp(page, email);
  await expect(page.getByTestId('session-status')).toContainText(email);
  await page.screenshot({ path: 'test-results/welcome-signed-in.png', fullPage: true });

  await page.getByTestId('sign-out').click();
  await expect(page.getByTestId('session-status')).toHaveText('You are not signed in.');

  await signIn(page, email, 'not my password');
  await expect(page).toHaveURL(/\/login\?flow=/);
  await expect(page.getByTestId('message-4000006')).toBeVisible();
  await expect(page.getByTestId('identifier')).toHaveValue(email);
  await page.screenshot({ path: 'test-results/login-error.png', fullPage: true });

  await page.getByTestId('password').fill(password);
  await page.getByTestId('submit-method-password').click();
  await expect(page).toHaveURL(/\/welcome$/);
  await expect(page.getByTestId('session-status')).toContainText(email);
});

test('after five wrong passwords the page says how long to wait', async ({ page }) => {
  const email = uniqueEmail('guessed');
  await signUp(page, email);
  await page.getByTestId('sign-out').click();
  for (let attempt = 0; attempt < 5; attempt++) {
    await signIn(page, email, `guess number ${attempt}`);
    await expect(page.getByTestId('message-4000006')).toBeVisible();
  }
  // Refused now even with the right password, and told for how long.
  await signIn(page, email, password);
  await expect(page).toHaveURL(/\/login\?flow=/);
  await expect(page.getByTestId('message-4009001')).toHaveText(
    'Too many attempts. Please wait 15 minutes, then try again.',
  );
  await page.screenshot({ path: 'test-results/login-throttled.png', fullPage: true });
});

test('sign-up problems are shown on the fields', async ({ page }) => {
  await page.goto('/registration');
  await fillProfile(page, uniqueEmail('short'));
  await page.getByTestId('password').fill('short');
  await page.getByTestId('submit-method-password').click();
  await expect(page).toHaveURL(/\/registration\?flow=/);
  await expect(page.getByTestId('password-messages').getByTestId('message-4000032')).toBeVisible();
  await page.screenshot({ path: 'test-results/registration-error.png', fullPage: true });
});

test('sign in with JavaScript disabled', async ({ browser }) => {
  const email = uniqueEmail('nojs');
  const setup = await browser.newPage();
  await signUp(setup, email);
  await setup.close();

  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await signIn(page, email, password);
  await expect(page).toHaveURL(/\/welcome$/);
  await expect(page.getByTestId('session-status')).toContainText(email);
  await context.close();
});

test('hydration adds show/hide for passwords', async ({ page }) => {
  await page.goto('/login');
  const input = page.getByTestId('password');
  await input.fill('secret value');
  const reveal = page.getByTestId('password-reveal');
  await expect(reveal).toBeVisible({ timeout: 15_000 });
  await reveal.click();
  await expect(input).toHaveAttribute('type', 'text');
  await reveal.click();
  await expect(input).toHaveAttribute('type', 'password');
});

test('links lead between sign-in and sign-up', async ({ page }) => {
  await page.goto('/login');
  await page.getByTestId('link-registration').click();
  await expect(page).toHaveURL(/\/registration\?flow=/);
  await page.getByTestId('link-login').click();
  await expect(page).toHaveURL(/\/login\?flow=/);
});
