import { expect, Page, test } from '@playwright/test';
import { ports, uniqueEmail } from './env';
import { expectAccessible, fillProfile, password, signIn, signUp } from './helpers';

const ui = `http://127.0.0.1:${ports.ui}`;

/**
 * Collects what the pages' security policy forbids: a Content-Security-Policy violation, or a
 * script, style, image or font from another origin (none is configured here).
 */
function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) problems.push(message.text());
  });
  page.on('request', (request) => {
    const url = request.url();
    if (request.resourceType() !== 'document' && !url.startsWith(ui) && !url.startsWith('data:')) {
      problems.push(`${request.resourceType()} from ${url}`);
    }
  });
  return problems;
}

/** Presses Tab until the element with `testId` has the focus; fails after 20 presses. */
async function tabTo(page: Page, testId: string) {
  for (let press = 0; press < 20; press++) {
    await page.keyboard.press('Tab');
    if ((await focusedTestId(page)) === testId) return;
  }
  throw new Error(`Tab never reached ${testId}`);
}

function focusedTestId(page: Page): Promise<string | null> {
  return page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? null);
}

test('every page passes axe in light and dark, signed out and in, with its messages', async ({ page }) => {
  test.setTimeout(120_000);
  const problems = watch(page);
  const email = uniqueEmail('axe');

  await page.goto('/welcome');
  await expectAccessible(page, 'welcome, signed out');
  await page.goto('/login');
  await expect(page).toHaveURL(/\/login\?flow=/);
  await expectAccessible(page, 'login');
  await signIn(page, email, 'not the password at all');
  await expect(page.getByTestId('message-4000006')).toBeVisible();
  await expectAccessible(page, 'login with an error');

  await page.goto('/registration');
  await expect(page).toHaveURL(/\/registration\?flow=/);
  await expectAccessible(page, 'registration');
  await fillProfile(page, email);
  await expectAccessible(page, 'registration, choosing a credential');
  await page.getByTestId('password').fill('short');
  await page.getByTestId('submit-method-password').click();
  await expect(page.getByTestId('message-4000032')).toBeVisible();
  await expectAccessible(page, 'registration with an error on a field');

  for (const flow of ['recovery', 'verification']) {
    await page.goto(`/${flow}`);
    await expect(page).toHaveURL(new RegExp(`/${flow}\\?flow=`));
    await expectAccessible(page, flow);
    await page.getByTestId('email').fill(email);
    await page.getByTestId('submit-method-code').click();
    await expect(page.getByTestId('ui-messages').locator('.ward-message-info')).toBeVisible();
    await expectAccessible(page, `${flow}, code sent`);
  }

  await page.goto('/error?id=00000000-0000-4000-8000-000000000000');
  await expectAccessible(page, 'error page');
  await page.goto('/no-such-page');
  await expectAccessible(page, 'not found');
  await page.goto('/dev/mailbox');
  await expectAccessible(page, 'dev mailbox');

  await signUp(page, email);
  await expectAccessible(page, 'welcome, signed in');
  await page.getByTestId('settings').click();
  await expect(page).toHaveURL(/\/settings\?flow=/);
  await expectAccessible(page, 'settings');
  await page.getByTestId('submit-method-profile').click();
  await expect(page.getByTestId('message-1050001')).toBeVisible();
  await expectAccessible(page, 'settings saved');
  await page.goto('/sessions');
  await expectAccessible(page, 'sessions');

  expect(problems).toEqual([]);
});

test('keyboard only: sign up and sign in, with the focus on what went wrong', async ({ page }) => {
  const email = uniqueEmail('keys');
  await page.goto('/registration');
  await page.waitForLoadState('networkidle'); // hydrated: the wasm bundle is in

  // Fields come in reading order, and the focused one shows a ring.
  const order: (string | null)[] = [];
  for (let press = 0; press < 10; press++) {
    await page.keyboard.press('Tab');
    order.push(await focusedTestId(page));
  }
  const fields = ['traits-email', 'traits-name-first', 'traits-name-last', 'submit-method-profile'];
  const positions = fields.map((field) => order.indexOf(field));
  expect(positions.every((position) => position >= 0), order.join(' ')).toBe(true);
  expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  await page.reload();
  await tabTo(page, 'traits-email');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
  expect(outline).not.toBe('none');

  // On to the credentials; a refused sign-up comes back with the focus on the field at fault,
  // tied to its message.
  await page.keyboard.type(email);
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('password-reveal')).toBeVisible();
  await tabTo(page, 'password');
  await page.keyboard.type('short');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('message-4000032')).toBeVisible();
  expect(await focusedTestId(page)).toBe('password');
  const field = page.getByTestId('password');
  await expect(field).toHaveAttribute('aria-invalid', 'true');
  const described = await field.getAttribute('aria-describedby');
  await expect(page.locator(`[id="${described}"]`)).toContainText(/./);
  await expect(page.locator(`[id="${described}"] [data-testid="message-4000032"]`)).toBeVisible();
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\/welcome$/);

  await tabTo(page, 'sign-out');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('sign-in')).toBeVisible();

  // A refused sign-in has the focus on the form's message; then the right password.
  await page.goto('/login');
  await expect(page.getByTestId('password-reveal')).toBeVisible();
  await tabTo(page, 'identifier');
  await page.keyboard.type(email);
  await tabTo(page, 'password');
  await page.keyboard.type('not the password at all');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('message-4000006')).toBeVisible();
  expect(await focusedTestId(page)).toBe('ui-messages');
  await tabTo(page, 'password');
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\/welcome$/);
  await expect(page.getByTestId('session-status')).toContainText(email);
});
