import { expect, Page } from '@playwright/test';

export const password = 'correct horse battery staple';

export async function signUp(page: Page, email: string) {
  await page.goto('/registration');
  await expect(page).toHaveURL(/\/registration\?flow=/);
  await page.getByTestId('traits-email').fill(email);
  await page.getByTestId('traits-name-first').fill('Ada');
  await page.getByTestId('password').fill(password);
  await page.getByTestId('submit-method-password').click();
  await expect(page).toHaveURL(/\/welcome$/);
}

export async function signIn(page: Page, email: string, secret: string) {
  await page.goto('/login');
  await expect(page).toHaveURL(/\/login\?flow=/);
  await page.getByTestId('identifier').fill(email);
  await page.getByTestId('password').fill(secret);
  await page.getByTestId('submit-method-password').click();
}
