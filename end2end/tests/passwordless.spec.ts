import { expect, test } from '@playwright/test';
import { themedUI, uniqueEmail } from './env';
import { expectAccessible, fillProfile, latestMail, password } from './helpers';

test('sign up and sign in with a code from the mailbox, no password', async ({ page, context }) => {
  const email = uniqueEmail('codes');
  await page.goto('/registration');
  await fillProfile(page, email);
  await page.screenshot({ path: 'test-results/registration-credentials.png', fullPage: true });
  await page.getByTestId('submit-method-code').click();
  await expect(page.getByTestId('message-1040005')).toBeVisible();
  await expect(page.getByTestId('code')).toBeVisible();
  await expect(page.getByTestId('submit-resend-code')).toBeVisible();
  await page.screenshot({ path: 'test-results/registration-code-sent.png', fullPage: true });
  await expectAccessible(page, 'registration, code sent');

  const mailbox = await context.newPage();
  const signUpMail = await latestMail(mailbox, email, 'sign-up code');
  const signUpCode = signUpMail.subject.match(/\d{6}/)?.[0] ?? '';
  expect(signUpCode).toHaveLength(6);
  await page.getByTestId('code').fill(signUpCode);
  await page.getByTestId('submit-method-code').click();
  await expect(page).toHaveURL(/\/welcome$/);
  await expect(page.getByTestId('session-status')).toContainText(email);

  await page.getByTestId('sign-out').click();
  await page.goto('/login');
  await page.getByTestId('identifier').fill(email);
  await page.getByTestId('submit-method-code').click();
  await expect(page.getByTestId('message-1010014')).toBeVisible();
  await expect(page.getByTestId('signing-in-as')).toContainText(email);
  await page.screenshot({ path: 'test-results/login-code-sent.png', fullPage: true });
  // A wrong code first: the form says so and keeps the step.
  await page.getByTestId('code').fill('000000');
  await page.getByTestId('submit-method-code').click();
  await expect(page.getByTestId('message-4010008')).toBeVisible();
  const signInMail = await latestMail(mailbox, email, 'sign-in code');
  const signInCode = signInMail.subject.match(/\d{6}/)?.[0] ?? '';
  await mailbox.close();
  await page.getByTestId('code').fill(signInCode);
  await page.getByTestId('submit-method-code').click();
  await expect(page).toHaveURL(/\/welcome$/);
  await expect(page.getByTestId('session-status')).toContainText(email);
});

test('two-step sign-up: back to the profile keeps what was typed', async ({ page }) => {
  const email = uniqueEmail('steps');
  await page.goto('/registration');
  await expect(page.getByTestId('password')).toHaveCount(0);
  await fillProfile(page, email);
  await page.getByTestId('submit-screen-previous').click();
  await expect(page.getByTestId('traits-email')).toHaveValue(email);
  await expect(page.getByTestId('traits-name-first')).toHaveValue('Ada');
  await page.getByTestId('traits-name-first').fill('Grace');
  await page.getByTestId('submit-method-profile').click();
  await page.getByTestId('password').fill(password);
  await page.getByTestId('submit-method-password').click();
  await expect(page).toHaveURL(/\/welcome$/);
  await expect(page.getByTestId('session-status')).toContainText(email);
});

test('identifier-first sign-in: the identifier, then that account\'s methods', async ({ page }) => {
  const email = uniqueEmail('first');
  await page.goto(`${themedUI}/registration`);
  await fillProfile(page, email);
  await page.getByTestId('password').fill(password);
  await page.getByTestId('submit-method-password').click();
  await expect(page).toHaveURL(/\/welcome$/);
  await page.getByTestId('sign-out').click();

  await page.goto(`${themedUI}/login`);
  await expect(page.getByTestId('password')).toHaveCount(0);
  await page.getByTestId('identifier').fill(email);
  await page.getByTestId('submit-method-identifier_first').click();
  await expect(page.getByTestId('password')).toBeVisible();
  await expect(page.getByTestId('submit-method-code')).toBeVisible();
  await expect(page.getByTestId('signing-in-as')).toContainText(email);
  await page.screenshot({ path: 'test-results/identifier-first-second-screen.png', fullPage: true });
  await expectAccessible(page, 'identifier-first, second screen');
  await page.getByTestId('password').fill(password);
  await page.getByTestId('submit-method-password').click();
  await expect(page).toHaveURL(/\/welcome$/);
  await expect(page.getByTestId('session-status')).toContainText(email);
});
