import { expect, Page, test } from '@playwright/test';
import { adminURL, publicURL, uniqueEmail, upstreamPort } from './env';
import { password } from './helpers';

const upstream = `http://127.0.0.1:${upstreamPort}`;

/** At the upstream's development pages: sign in as `login`, then allow Ward. */
async function atUpstream(page: Page, login: string) {
  await expect(page).toHaveURL(new RegExp(`^${upstream}/interaction/`));
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  // Consent, the first time this upstream account meets Ward.
  const allow = page.getByRole('button', { name: 'Continue' });
  if (await allow.isVisible()) await allow.click();
}

async function me(page: Page) {
  const response = await page.request.get(`${publicURL}/sessions/whoami`);
  expect(response.status()).toBe(200);
  return response.json();
}

test('sign up through the upstream, sign out, sign in again as the same identity', async ({ page }) => {
  const email = uniqueEmail('zoe');
  await page.goto('/registration');
  const button = page.getByTestId('submit-provider-upstream');
  await expect(button).toHaveText('Sign up with Upstream');
  await page.screenshot({ path: 'test-results/registration-with-upstream.png', fullPage: true });
  await button.click();
  await atUpstream(page, email);
  await expect(page).toHaveURL(/\/welcome$/);

  const first = await me(page);
  expect(first.identity.traits).toEqual({
    email,
    name: { first: email.split('@')[0].replace(/^z/, 'Z'), last: 'Upstream' },
  });
  expect(first.identity.verifiable_addresses[0].verified).toBe(true);
  expect(first.authentication_methods[0]).toMatchObject({ method: 'oidc', provider: 'upstream' });

  await page.getByTestId('sign-out').click();
  await page.goto('/login');
  await expect(page.getByTestId('submit-provider-upstream')).toHaveText('Sign in with Upstream');
  await page.getByTestId('submit-provider-upstream').click();
  // The upstream remembers its own session and the consent: straight back.
  await expect(page).toHaveURL(/\/welcome$/);
  expect((await me(page)).identity.id).toBe(first.identity.id);
});

test('an upstream account with the address of a password account links after the password', async ({
  page,
  context,
}) => {
  // The existing account has proven its address (only such accounts are offered for linking).
  const email = uniqueEmail('yan');
  const created = await page.request.post(`${adminURL}/admin/identities`, {
    data: {
      schema_id: 'default',
      traits: { email },
      verifiable_addresses: [{ value: email, via: 'email', verified: true, status: 'completed' }],
      credentials: { password: { config: { password } } },
    },
  });
  expect(created.status()).toBe(201);
  const owner = { identity: await created.json() };


  await page.goto('/registration');
  await page.getByTestId('submit-provider-upstream').click();
  await atUpstream(page, email);
  await expect(page).toHaveURL(/\/login\?flow=/);
  await expect(page.getByTestId('message-1010016')).toBeVisible();
  await page.screenshot({ path: 'test-results/login-to-link.png', fullPage: true });
  await page.getByTestId('password').fill(password);
  await page.getByTestId('submit-method-password').click();
  await expect(page).toHaveURL(/\/welcome$/);
  expect((await me(page)).identity.id).toBe(owner.identity.id);

  // Linked: the upstream alone signs in to the same account now.
  await context.clearCookies({ domain: '127.0.0.1', path: '/', name: 'ory_kratos_session' });
  await page.goto('/login');
  await page.getByTestId('submit-provider-upstream').click();
  await expect(page).toHaveURL(/\/welcome$/);
  expect((await me(page)).identity.id).toBe(owner.identity.id);

  // Unlinked in settings: the button turns back into "Link".
  await page.goto('/settings');
  await expect(page.getByTestId('submit-unlink-upstream')).toHaveText('Unlink Upstream');
  await page.screenshot({ path: 'test-results/settings-linked.png', fullPage: true });
  await page.getByTestId('submit-unlink-upstream').click();
  await expect(page.getByTestId('message-1050001')).toBeVisible();
  await expect(page.getByTestId('submit-link-upstream')).toHaveText('Link Upstream');
  const identity = await (
    await page.request.get(`${adminURL}/admin/identities/${owner.identity.id}`)
  ).json();
  expect(identity.credentials.oidc).toBeUndefined();
});
