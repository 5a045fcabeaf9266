import { expect, test } from '@playwright/test';
import { themedUI } from './env';
import { expectAccessible } from './helpers';

test('a themed Ward: product name, logo, design tokens and stylesheet come from configuration', async ({ page }) => {
  await page.goto(`${themedUI}/login`);
  await expect(page).toHaveURL(/\/login\?flow=/);
  await expect(page).toHaveTitle('Sign in · Acme ID');
  await expect(page.getByTestId('product-name')).toHaveText('Acme ID');
  await expect(page.locator('footer')).toContainText('Secured by Acme ID');
  const logo = page.locator('.ward-logo');
  await expect(logo).toHaveAttribute('src', /^\/theme\/logo-[0-9a-f]+\.svg$/);
  expect(await logo.evaluate((image: HTMLImageElement) => image.naturalWidth)).toBeGreaterThan(0);

  const button = page.getByTestId('submit-method-identifier_first');
  const style = (property: string) =>
    button.evaluate((element, name) => getComputedStyle(element).getPropertyValue(name), property);
  await page.emulateMedia({ colorScheme: 'light' });
  expect(await style('background-color')).toBe('rgb(15, 118, 110)');
  expect(await style('border-top-left-radius')).toBe('4px');
  // The operator's stylesheet comes after the built-in one.
  const card = page.locator('.ward-card');
  expect(await card.evaluate((element) => getComputedStyle(element).borderTopWidth)).toBe('4px');
  await page.screenshot({ path: 'test-results/themed-login.png' });
  // The dark scheme takes the token's -dark variant.
  await page.emulateMedia({ colorScheme: 'dark' });
  expect(await style('background-color')).toBe('rgb(94, 234, 212)');
  await page.screenshot({ path: 'test-results/themed-login-dark.png' });
  await expectAccessible(page, 'themed login');
});
