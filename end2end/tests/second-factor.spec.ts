import { expect, test } from '@playwright/test';
import { uniqueEmail } from './env';
import { expectAccessible, password, signIn, signUp, totp } from './helpers';

test('set up an authenticator app, then sign in with password and code', async ({ page, context }) => {
  const email = uniqueEmail('totp');
  await signUp(page, email);
  await page.getByTestId('settings').click();
  await expect(page).toHaveURL(/\/settings\?flow=/);

  // The QR code and the secret for typing in by hand.
  await expect(page.getByTestId('totp_qr').locator('img')).toBeVisible();
  const secret = (await page.getByTestId('totp_secret_key').locator('code').textContent())!.trim();
  expect(secret).toMatch(/^[A-Z2-7]{32}$/);
  // Once hydrated, a button copies the secret.
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await expect(async () => {
    await page.getByTestId('copy-totp_secret_key').click();
    await expect(page.getByTestId('copy-totp_secret_key')).toHaveText('Copied', { timeout: 500 });
  }).toPass();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
  // Hydration left the page as it was: the secret is still shown.
  await expect(page.getByTestId('totp_secret_key').locator('code')).toHaveText(secret);
  await page.screenshot({ path: 'test-results/totp-setup.png', fullPage: true });
  await expectAccessible(page, 'settings with an authenticator app to set up');
  await page.getByTestId('totp_code').fill(totp(secret));
  await page.getByTestId('submit-method-totp').click();
  await expect(page.getByTestId('message-1050001')).toBeVisible();
  await expect(page.getByTestId('submit-totp_unlink-true')).toBeVisible();

  await page.goto('/welcome');
  await page.getByTestId('sign-out').click();
  await expect(page.getByTestId('session-status')).toHaveText('You are not signed in.');

  // The password alone leads to the second-factor page, not into the account.
  await signIn(page, email, password);
  await expect(page).toHaveURL(/\/login\?flow=/);
  await expect(page.getByTestId('message-1010004')).toBeVisible();
  await expect(page.getByTestId('password')).toHaveCount(0);
  // The way back is signing out, not signing up.
  await expect(page.getByTestId('sign-out')).toBeVisible();
  await expect(page.getByTestId('link-registration')).toHaveCount(0);
  await page.screenshot({ path: 'test-results/totp-login.png', fullPage: true });
  await expectAccessible(page, 'the second-factor step of sign-in');
  // The setup code is spent; the next step's code is what the app shows then.
  await page.getByTestId('totp_code').fill(totp(secret, Date.now() + 30_000));
  await page.getByTestId('submit-method-totp').click();
  await expect(page).toHaveURL(/\/welcome$/);
  await expect(page.getByTestId('session-status')).toContainText(email);
});

test('generate backup codes, then sign in with password and one of them', async ({ page }) => {
  const email = uniqueEmail('codes');
  await signUp(page, email);
  await page.getByTestId('settings').click();
  await page.getByTestId('submit-lookup_secret_regenerate-true').click();
  const codes = await page.getByTestId('lookup_secret_codes').locator('li code').allTextContents();
  expect(codes).toHaveLength(12);
  const download = await page.getByTestId('download-backup-codes').getAttribute('href');
  expect(decodeURIComponent(download!.split(',')[1]).trim().split('\n')).toEqual(codes);
  await page.screenshot({ path: 'test-results/backup-codes.png', fullPage: true });
  await expectAccessible(page, 'backup codes');
  await page.getByTestId('submit-lookup_secret_confirm-true').click();
  await expect(page.getByTestId('message-1050001')).toBeVisible();
  // Shown once: the page no longer has them.
  await expect(page.getByTestId('lookup_secret_codes')).toHaveCount(0);

  await page.goto('/welcome');
  await page.getByTestId('sign-out').click();
  await signIn(page, email, password);
  await expect(page.getByTestId('message-1010004')).toBeVisible();
  await page.getByTestId('lookup_secret').fill(codes[0]);
  await page.getByTestId('submit-method-lookup_secret').click();
  await expect(page).toHaveURL(/\/welcome$/);
  await expect(page.getByTestId('session-status')).toContainText(email);
});
