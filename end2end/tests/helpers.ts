import { createHmac } from 'node:crypto';
import AxeBuilder from '@axe-core/playwright';
import { expect, Page } from '@playwright/test';

export const password = 'correct horse battery staple';

export async function signUp(page: Page, email: string) {
  await page.goto('/registration');
  await expect(page).toHaveURL(/\/registration\?flow=/);
  await fillProfile(page, email);
  await page.getByTestId('password').fill(password);
  await page.getByTestId('submit-method-password').click();
  await expect(page).toHaveURL(/\/welcome$/);
}

/** The first screen of two-step sign-up: the traits, then on to the credentials. */
export async function fillProfile(page: Page, email: string) {
  await page.getByTestId('traits-email').fill(email);
  await page.getByTestId('traits-name-first').fill('Ada');
  await page.getByTestId('submit-method-profile').click();
  await expect(page.getByTestId('message-1040009')).toBeVisible();
}

export async function signIn(page: Page, email: string, secret: string) {
  await page.goto('/login');
  await expect(page).toHaveURL(/\/login\?flow=/);
  await page.getByTestId('identifier').fill(email);
  await page.getByTestId('password').fill(secret);
  await page.getByTestId('submit-method-password').click();
}

/** RFC 6238 with SHA-1, 6 digits, 30-second steps: what an authenticator app shows. */
export function totp(base32: string, at = Date.now()): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const char of base32.replace(/=+$/, '')) {
    bits += alphabet.indexOf(char).toString(2).padStart(5, '0');
  }
  const bytes = Buffer.from(bits.match(/.{8}/g)!.map((byte) => parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const mac = createHmac('sha1', bytes).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return value.toString().padStart(6, '0');
}

/**
 * Runs axe-core on the page in the light and the dark scheme and fails on any serious or
 * critical WCAG 2.1 A/AA violation, naming the rule and the elements.
 */
export async function expectAccessible(page: Page, name: string) {
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    const results = await new AxeBuilder({ page })
      .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
      .analyze();
    const found = results.violations
      .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
      .map((violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`);
    expect(found, `${name} in the ${colorScheme} scheme`).toEqual([]);
  }
  await page.emulateMedia({ colorScheme: null });
}

/** The newest mail to `email` whose subject contains `subject`, read from the dev mailbox. */
export async function latestMail(page: Page, email: string, subject: string) {
  for (let attempt = 0; attempt < 20; attempt++) {
    await page.goto('/dev/mailbox');
    const mail = page
      .getByTestId('mail')
      .filter({ has: page.getByTestId('mail-recipient').getByText(email, { exact: true }) })
      .filter({ has: page.getByTestId('mail-subject').getByText(subject) })
      .first();
    if ((await mail.count()) > 0) {
      return {
        subject: (await mail.getByTestId('mail-subject').innerText()).trim(),
        body: await mail.getByTestId('mail-body').innerText(),
      };
    }
    await page.waitForTimeout(250);
  }
  throw new Error(`no mail "${subject}" to ${email}`);
}
