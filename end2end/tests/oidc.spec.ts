import { expect, test } from '@playwright/test';
import * as oidc from 'openid-client';
import { adminURL, publicURL, uniqueEmail } from './env';
import { expectAccessible, password } from './helpers';

// A relying party built on openid-client (a certified library) against Ward's provider.
const callback = 'http://127.0.0.1:9999/callback';
const loggedOut = 'http://127.0.0.1:9999/logged-out';
const insecure = { execute: [oidc.allowInsecureRequests] };

async function admin(path: string, body: unknown) {
  const response = await fetch(`${adminURL}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return response.json();
}

test('an openid-client relying party signs in through Ward: code + PKCE, consent, refresh, logout', async ({ page }) => {
  const email = uniqueEmail('oidc');
  await admin('/admin/identities', {
    schema_id: 'default',
    traits: { email, name: { first: 'Ada', last: 'Lovelace' } },
    credentials: { password: { config: { password } } },
  });
  const registered = await admin('/admin/clients', {
    client_name: 'Acme Notes',
    redirect_uris: [callback],
    post_logout_redirect_uris: [loggedOut],
    grant_types: ['authorization_code', 'refresh_token'],
    scope: 'openid offline_access email profile',
  });
  const config = await oidc.discovery(
    new URL(publicURL),
    registered.client_id,
    undefined,
    oidc.ClientSecretBasic(registered.client_secret),
    insecure,
  );
  // The client's redirect URI has no server here: the browser stops there.
  await page.route('http://127.0.0.1:9999/**', (route) =>
    route.fulfill({ status: 200, contentType: 'text/plain', body: 'back at the application' }),
  );

  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const authorization = oidc.buildAuthorizationUrl(config, {
    redirect_uri: callback,
    scope: 'openid offline_access email profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  await page.goto(authorization.href);
  // Ward's own sign-in page, then its consent page.
  await expect(page).toHaveURL(/\/login\?flow=/);
  await expect(page.getByTestId('oauth2-client')).toHaveText('to continue to Acme Notes');
  await page.screenshot({ path: 'test-results/oidc-login.png', fullPage: true });
  await page.getByTestId('identifier').fill(email);
  await page.getByTestId('password').fill(password);
  await page.getByTestId('submit-method-password').click();
  await expect(page.getByTestId('consent-page')).toBeVisible();
  await expect(page.getByRole('heading')).toHaveText('Allow Acme Notes to use your account?');
  await expect(page.getByTestId('consent-scopes')).toContainText('See your e-mail address');
  await page.screenshot({ path: 'test-results/oidc-consent.png', fullPage: true });
  await expectAccessible(page, 'consent');
  await page.getByTestId('consent-accept').click();
  await page.waitForURL(/127\.0\.0\.1:9999\/callback\?/);

  // The library checks state, PKCE, the id_token's signature (JWKS), issuer, audience, nonce.
  const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims()!;
  expect(claims.email).toBe(email);
  expect(claims.given_name).toBe('Ada');
  expect(claims.acr).toBe('aal1');
  const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
  expect(info.email).toBe(email);
  expect(info.name).toBe('Ada Lovelace');

  // Refresh rotates; replaying the used refresh token revokes the grant, newest tokens too.
  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
  expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
  await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
    error: 'invalid_grant',
  });
  await expect(oidc.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({
    error: 'invalid_grant',
  });

  // RP-initiated logout ends the Ward session and returns with the state.
  const logout = oidc.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token!,
    post_logout_redirect_uri: loggedOut,
    state: 'signed-out',
  });
  // The browser's cookies go along; the answer is looked at, not followed.
  const loggedOutAnswer = await page.request.get(logout.href, { maxRedirects: 0 });
  expect(loggedOutAnswer.status()).toBe(303);
  expect(loggedOutAnswer.headers()['location']).toBe(`${loggedOut}?state=signed-out`);
  const whoami = await page.request.get(`${publicURL}/sessions/whoami`);
  expect(whoami.status()).toBe(401);
});

test('client credentials, revocation and introspection with openid-client', async () => {
  const registered = await admin('/admin/clients', {
    grant_types: ['client_credentials'],
    scope: 'reports:read',
  });
  const config = await oidc.discovery(
    new URL(publicURL),
    registered.client_id,
    undefined,
    oidc.ClientSecretBasic(registered.client_secret),
    insecure,
  );
  const tokens = await oidc.clientCredentialsGrant(config, { scope: 'reports:read' });
  expect(tokens.access_token).toMatch(/^ory_at_/);
  const introspect = async (token: string) => {
    const response = await fetch(`${adminURL}/admin/oauth2/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }),
    });
    return response.json();
  };
  expect(await introspect(tokens.access_token)).toMatchObject({
    active: true,
    sub: registered.client_id,
    scope: 'reports:read',
  });
  await oidc.tokenRevocation(config, tokens.access_token);
  expect(await introspect(tokens.access_token)).toEqual({ active: false });
});

test('a client signs its requests with its own key (private_key_jwt) through openid-client', async () => {
  const { privateKey, publicKey } = await crypto.subtle.generateKey(
    { name: 'ECDSA', namedCurve: 'P-256' },
    true,
    ['sign', 'verify'],
  );
  const jwk = { ...(await crypto.subtle.exportKey('jwk', publicKey)), kid: 'e2e-key', alg: 'ES256', use: 'sig' };
  const registered = await admin('/admin/clients', {
    grant_types: ['client_credentials'],
    scope: 'reports:read',
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    jwks: { keys: [jwk] },
  });
  expect(registered.client_secret).toBeUndefined();
  const config = await oidc.discovery(
    new URL(publicURL),
    registered.client_id,
    undefined,
    oidc.PrivateKeyJwt({ key: privateKey, kid: 'e2e-key' }),
    insecure,
  );
  expect(config.serverMetadata().token_endpoint_auth_methods_supported).toContain('private_key_jwt');
  const tokens = await oidc.clientCredentialsGrant(config, { scope: 'reports:read' });
  expect(tokens.access_token).toMatch(/^ory_at_/);
  // Revocation authenticates the same way, with a new assertion.
  await oidc.tokenRevocation(config, tokens.access_token);
});
