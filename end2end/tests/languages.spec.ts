import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { expect, test } from '@playwright/test';
import { uniqueEmail } from './env';
import { signUp } from './helpers';

const languages = ['en', 'de', 'fr', 'es', 'ru', 'zh-CN'];

/** The one-line entries of a language's catalogue files, as the pages should show them. */
function catalogue(language: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const file of ['messages.ftl', 'pages.ftl']) {
    const text = readFileSync(path.join(__dirname, '..', '..', 'app', 'locales', language, file), 'utf8');
    for (const line of text.split('\n')) {
      const match = line.match(/^([a-z0-9-]+) = (.+)$/);
      if (match) entries.set(match[1], match[2]);
    }
  }
  return entries;
}

const english = catalogue('en');

for (const language of languages) {
  test(`/login and /registration in ${language}, with a translated error`, async ({ page }) => {
    const texts = catalogue(language);
    const text = (key: string) => {
      const value = texts.get(key);
      expect(value, key).toBeTruthy();
      if (language !== 'en') expect(value, `${key} is translated`).not.toBe(english.get(key));
      return value!;
    };
    await page.goto(`/login?lang=${language}`);
    await expect(page).toHaveURL(/\/login\?flow=/);
    await expect(page.locator('html')).toHaveAttribute('lang', language);
    await expect(page.locator('h1')).toHaveText(text('login-title'));
    await expect(page.getByTestId('submit-method-password')).toHaveText(text('msg-1010022'));
    await expect(page.getByTestId('link-recovery')).toHaveText(text('login-forgot'));
    await page.getByTestId('identifier').fill(uniqueEmail('lang'));
    await page.getByTestId('password').fill('not the password at all');
    await page.getByTestId('submit-method-password').click();
    await expect(page.getByTestId('message-4000006')).toHaveText(text('msg-4000006'));

    // The choice is remembered: the next page needs no ?lang=.
    await page.goto('/registration');
    await expect(page).toHaveURL(/\/registration\?flow=/);
    await expect(page.locator('html')).toHaveAttribute('lang', language);
    await expect(page.locator('h1')).toHaveText(text('registration-heading'));
    await expect(page.getByTestId('submit-method-profile')).toHaveText(text('msg-1040001'));
  });
}

test('the browser language counts when nothing was chosen; the picker keeps the flow', async ({ browser }) => {
  const context = await browser.newContext({ locale: 'es-ES' });
  const page = await context.newPage();
  await page.goto('/login');
  await expect(page).toHaveURL(/\/login\?flow=/);
  await expect(page.locator('html')).toHaveAttribute('lang', 'es');
  await expect(page.locator('h1')).toHaveText(catalogue('es').get('login-title')!);
  const flow = new URL(page.url()).searchParams.get('flow');

  // The footer's picker works without JavaScript: plain links to this page in each language.
  await page.getByTestId('language-de').click();
  await expect(page.locator('html')).toHaveAttribute('lang', 'de');
  expect(new URL(page.url()).searchParams.get('flow')).toBe(flow);
  await expect(page.getByTestId('language-de')).toHaveAttribute('aria-current', 'true');
  await page.goto('/welcome');
  await expect(page.getByTestId('session-status')).toHaveText(catalogue('de').get('welcome-signed-out')!);
  await context.close();
});

test('a German browser gets its recovery mail in German', async ({ browser }) => {
  const context = await browser.newContext({ locale: 'de-DE' });
  const page = await context.newPage();
  const email = uniqueEmail('sprache');
  await signUp(page, email);
  await page.getByTestId('sign-out').click();
  await page.goto('/recovery');
  await page.getByTestId('email').fill(email);
  await page.getByTestId('submit-method-code').click();
  await expect(page.getByTestId('message-1060003')).toHaveText(catalogue('de').get('msg-1060003')!);

  const mail = page
    .getByTestId('mail')
    .filter({ has: page.getByTestId('mail-recipient').getByText(email, { exact: true }) })
    .filter({ has: page.getByTestId('mail-subject').getByText('Wiederherstellungscode') });
  await expect(async () => {
    await page.goto('/dev/mailbox');
    await expect(mail).toHaveCount(1, { timeout: 500 });
  }).toPass();
  await expect(mail.getByTestId('mail-subject')).toHaveText(/^Ihr Wiederherstellungscode lautet \d{6}$/);
  await expect(mail.getByTestId('mail-body')).toContainText('geben Sie diesen Code ein');
  await context.close();
});
