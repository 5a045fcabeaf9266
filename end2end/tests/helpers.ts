import { createHmac } from 'node:crypto';
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
