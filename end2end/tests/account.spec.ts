import { expect, test } from '@playwright/test';
import { uniqueEmail } from './env';
import { latestMail, password, signIn, signUp } from './helpers';

test('forgot password: code by mail, new password, sign in', async ({ page, context }) => {
  const email = uniqueEmail('recover');
  await signUp(page, email);
  await page.getByTestId('sign-out').click();

  await page.goto('/login');
  await page.getByTestId('link-recovery').click();
  await expect(page).toHaveURL(/\/recovery\?flow=/);
  await page.getByTestId('email').fill(email);
  await page.getByTestId('submit-method-code').click();
  await expect(page.getByTestId('message-1060003')).toBeVisible();
  const recoveryPage = page.url();

  const mailbox = await context.newPage();
  const mail = await latestMail(mailbox, email, 'recovery code');
  const code = mail.subject.match(/\d{6}/)?.[0] ?? '';
  expect(code).toHaveLength(6);
  await mailbox.screenshot({ path: 'test-results/dev-mailbox.png', fullPage: true });
  await mailbox.close();

  await expect(page).toHaveURL(recoveryPage);
  await page.getByTestId('code').fill(code);
  await page.getByTestId('submit-method-code').click();
  await expect(page).toHaveURL(/\/settings\?flow=/);
  await expect(page.getByTestId('message-1060001')).toBeVisible();
  await page.screenshot({ path: 'test-results/settings-after-recovery.png', fullPage: true });

  await page.getByTestId('password').fill('a new and long passphrase');
  await page.getByTestId('submit-method-password').click();
  await expect(page.getByTestId('message-1050001')).toBeVisible();

  await page.goto('/welcome');
  await page.getByTestId('sign-out').click();
  await signIn(page, email, password);
  await expect(page.getByTestId('message-4000006')).toBeVisible();
  await page.getByTestId('password').fill('a new and long passphrase');
  await page.getByTestId('submit-method-password').click();
  await expect(page).toHaveURL(/\/welcome$/);
  await expect(page.getByTestId('session-status')).toContainText(email);
});

test('sign up, then verify the address with the link from the mail', async ({ page }) => {
  const email = uniqueEmail('verify');
  await signUp(page, email);
  const mail = await latestMail(page, email, 'verification code');
  const link = mail.body.match(/http\S+\/self-service\/verification\?\S+/)?.[0] ?? '';
  expect(link).toContain('code=');
  await page.goto(link);
  await expect(page).toHaveURL(/\/verification\?flow=/);
  await expect(page.getByTestId('message-1080002')).toBeVisible();
  await page.screenshot({ path: 'test-results/verified.png', fullPage: true });
  await page.getByTestId('continue').click();
  await expect(page).toHaveURL(/\/welcome$/);
});

test('change the name in settings', async ({ page }) => {
  const email = uniqueEmail('settings');
  await signUp(page, email);
  await page.getByTestId('settings').click();
  await expect(page).toHaveURL(/\/settings\?flow=/);
  await expect(page.getByTestId('traits-email')).toHaveValue(email);
  await page.getByTestId('traits-name-first').fill('Grace');
  await page.getByTestId('submit-method-profile').click();
  await expect(page.getByTestId('message-1050001')).toBeVisible();
  await expect(page.getByTestId('traits-name-first')).toHaveValue('Grace');
  await page.screenshot({ path: 'test-results/settings-saved.png', fullPage: true });
  await page.goto('/welcome');
  await expect(page.getByTestId('session-traits')).toContainText('Grace');
});

test('revoke another session from the sessions page, without JavaScript', async ({ browser }) => {
  const email = uniqueEmail('sessions');
  const setup = await browser.newPage();
  await signUp(setup, email);
  const other = await browser.newContext();
  const otherPage = await other.newPage();
  await signIn(otherPage, email, password);
  await expect(otherPage).toHaveURL(/\/welcome$/);

  const plain = await browser.newContext({ javaScriptEnabled: false });
  const page = await plain.newPage();
  await signIn(page, email, password);
  await expect(page).toHaveURL(/\/welcome$/);
  await page.goto('/sessions');
  await expect(page.getByTestId('session-list').locator('li')).toHaveCount(3);
  await expect(page.getByTestId('current-session')).toHaveCount(1);
  await page.screenshot({ path: 'test-results/sessions.png', fullPage: true });
  await page.getByTestId('revoke-session').first().click();
  await expect(page).toHaveURL(/\/sessions(\?.*)?$/);
  await expect(page.getByTestId('session-list').locator('li')).toHaveCount(2);
  await page.getByTestId('revoke-all').click();
  await expect(page.getByTestId('session-list').locator('li')).toHaveCount(1);

  await otherPage.goto('/welcome');
  await expect(otherPage.getByTestId('session-status')).toHaveText('You are not signed in.');
  await setup.goto('/welcome');
  await expect(setup.getByTestId('session-status')).toHaveText('You are not signed in.');
  await page.goto('/welcome');
  await expect(page.getByTestId('session-status')).toContainText(email);
  await Promise.all([other.close(), plain.close(), setup.close()]);
});
