import { expect, Page, test } from '@playwright/test';
import { passkeyUI, uniqueEmail } from './env';
import { expectAccessible, fillProfile, password } from './helpers';

/** Chromium's virtual authenticator: a platform authenticator that keeps passkeys, verifies
 * its user and answers at once. */
async function addAuthenticator(page: Page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}

test('sign up with a passkey, then sign in with it without typing the address', async ({ page }) => {
  const { cdp, authenticatorId } = await addAuthenticator(page);
  const email = uniqueEmail('passkey');
  await page.goto(`${passkeyUI}/registration`);
  await expect(page).toHaveURL(/\/registration\?flow=/);
  await fillProfile(page, email);
  // The hydrated form runs the ceremony itself (web-sys): Kratos's script is for other UIs.
  await expect(page.locator('script[src*="webauthn.js"]')).toHaveCount(0);
  await page.screenshot({ path: 'test-results/passkey-sign-up.png', fullPage: true });
  await expectAccessible(page, 'registration with a passkey');
  await page.getByTestId('passkey_register_trigger').click();
  await expect(page).toHaveURL(/\/welcome$/);
  await expect(page.getByTestId('session-status')).toContainText(email);

  // The login page offers the passkey in the identifier field's autofill (conditional
  // mediation); the virtual authenticator picks it at once, so the page signs in by itself.
  await page.getByTestId('sign-out').click();
  await expect(page.getByTestId('session-status')).toHaveText('You are not signed in.');
  await page.goto(`${passkeyUI}/login`);
  await expect(page).toHaveURL(/\/welcome$/);
  await expect(page.getByTestId('session-status')).toContainText(email);

  // Another authenticator, without that passkey, cannot sign in: its autofill has nothing to
  // offer, so the page stays where it is. (A wrong passkey's refusal, 4000015, is an API test.)
  await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId });
  await addAuthenticator(page);
  await page.getByTestId('sign-out').click();
  await expect(page.getByTestId('session-status')).toHaveText('You are not signed in.');
  await page.goto(`${passkeyUI}/login`);
  await expect(page.getByTestId('identifier')).toHaveAttribute('autocomplete', 'username webauthn');
  await page.screenshot({ path: 'test-results/passkey-sign-in.png', fullPage: true });
  await page.waitForTimeout(1000);
  await expect(page).toHaveURL(/\/login\?flow=/);
});

test('add a security key in settings, then step up with it after the password', async ({ page }) => {
  const { cdp, authenticatorId } = await addAuthenticator(page);
  const email = uniqueEmail('security-key');
  await page.goto(`${passkeyUI}/registration`);
  await fillProfile(page, email);
  await page.getByTestId('password').fill(password);
  await page.getByTestId('submit-method-password').click();
  await expect(page).toHaveURL(/\/welcome$/);

  await page.getByTestId('settings').click();
  await expect(page).toHaveURL(/\/settings\?flow=/);
  await page.getByTestId('webauthn_register_displayname').fill('Desk key');
  await page.getByTestId('webauthn_register_trigger').click();
  await expect(page.getByTestId('message-1050001')).toBeVisible();
  await expect(page.getByTestId('submit-webauthn_remove')).toHaveCount(0);
  const remove = page.locator('[name="webauthn_remove"]');
  await expect(remove).toHaveText('Remove security key "Desk key"');
  await page.screenshot({ path: 'test-results/security-key-settings.png', fullPage: true });
  await expectAccessible(page, 'settings with security keys');
  // The same authenticator again: the browser refuses it (the options exclude it), and the
  // page says so beneath the button instead of submitting.
  await page.getByTestId('webauthn_register_displayname').fill('Desk key again');
  await page.getByTestId('webauthn_register_trigger').click();
  await expect(page.getByTestId('webauthn-failure')).toContainText('already registered');
  await page.getByTestId('webauthn-failure').screenshot({ path: 'test-results/security-key-refused.png' });
  await expect(remove).toHaveCount(1);

  // Password, then the key: the session reaches aal2.
  await page.goto(`${passkeyUI}/welcome`);
  await page.getByTestId('sign-out').click();
  await page.goto(`${passkeyUI}/login`);
  await page.getByTestId('identifier').fill(email);
  await page.getByTestId('password').fill(password);
  await page.getByTestId('submit-method-password').click();
  await expect(page).toHaveURL(/\/login\?flow=/);
  await expect(page.getByTestId('webauthn_login_trigger')).toBeVisible();
  await page.screenshot({ path: 'test-results/security-key-second-factor.png', fullPage: true });
  await expectAccessible(page, 'the security key step of sign-in');
  await page.getByTestId('webauthn_login_trigger').click();
  await expect(page).toHaveURL(/\/welcome$/);
  await expect(page.getByTestId('session-status')).toContainText(email);

  // Removing the key ends the second factor.
  await page.getByTestId('settings').click();
  await page.locator('[name="webauthn_remove"]').click();
  await expect(page.getByTestId('message-1050001')).toBeVisible();
  await expect(page.locator('[name="webauthn_remove"]')).toHaveCount(0);
  await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId });
});
