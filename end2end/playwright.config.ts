import { defineConfig } from '@playwright/test';
import * as os from 'node:os';
import * as path from 'node:path';

import { passkeyPorts, ports, themedPorts, upstreamPort } from './tests/env';

const root = path.resolve(__dirname, '..');
const ward = process.env.WARD_BIN ?? path.join(root, 'target', 'debug', 'ward');
const workdir = path.join(os.tmpdir(), `ward-e2e-${process.pid}`);
const passkeyWorkdir = path.join(os.tmpdir(), `ward-e2e-passkeys-${process.pid}`);
const themedWorkdir = path.join(os.tmpdir(), `ward-e2e-themed-${process.pid}`);
const site = path.join(root, 'target', 'site');
const base64 = (text: string) => `base64://${Buffer.from(text).toString('base64')}`;
// The themed Ward's logo and stylesheet.
const logo = `<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28" viewBox="0 0 28 28">
<rect width="28" height="28" rx="6" fill="#0f766e"/><path d="M8 21l6-14 6 14M10.5 16h7" stroke="#fff" stroke-width="2.5" fill="none"/></svg>`;
const stylesheet = '.ward-card { border-top: 4px solid var(--ward-color-accent); }';

// Social sign-in through the upstream: its claims become traits through this mapper.
const mapper = `
local claims = std.extVar('claims');
{ identity: {
    traits: { email: claims.email, name: { first: claims.given_name, last: claims.family_name } },
    verified_addresses: if claims.email_verified then [{ value: claims.email, via: 'email' }] else [],
} }`;
const providers = JSON.stringify([
  {
    id: 'upstream',
    provider: 'generic',
    label: 'Upstream',
    client_id: 'ward',
    client_secret: 'ward-upstream-secret',
    issuer_url: `http://127.0.0.1:${upstreamPort}`,
    scope: ['email', 'profile'],
    mapper_url: `base64://${Buffer.from(mapper).toString('base64')}`,
  },
]);

export default defineConfig({
  testDir: './tests',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  timeout: 30_000,
  use: {
    baseURL: `http://127.0.0.1:${ports.ui}`,
    screenshot: 'only-on-failure',
    launchOptions: {
      // Playwright cannot download its own browser here; Debian's Chromium it is.
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--disable-dev-shm-usage',
      ],
    },
  },
  webServer: [
    {
      // A fresh working directory means a fresh SQLite database and fresh dev secrets.
      command: `rm -rf ${workdir} && mkdir -p ${workdir} && cd ${workdir} && exec ${ward} serve --dev`,
      url: `http://127.0.0.1:${ports.public}/health/ready`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'pipe',
      stderr: 'pipe',
      env: {
        SERVE_PUBLIC_PORT: String(ports.public),
        SERVE_ADMIN_PORT: String(ports.admin),
        SERVE_UI_PORT: String(ports.ui),
        LEPTOS_SITE_ROOT: site,
        HASHERS_ARGON2_MEMORY: '1MB',
        HASHERS_ARGON2_ITERATIONS: '1',
        SELFSERVICE_METHODS_TOTP_ENABLED: 'true',
        SELFSERVICE_METHODS_LOOKUP_SECRET_ENABLED: 'true',
        SELFSERVICE_METHODS_OIDC_ENABLED: 'true',
        SELFSERVICE_METHODS_OIDC_CONFIG_PROVIDERS: providers,
        SELFSERVICE_METHODS_CODE_PASSWORDLESS_ENABLED: 'true',
      },
    },
    {
      command: `node fixtures/oidc-upstream.mjs ${upstreamPort}`,
      url: `http://127.0.0.1:${upstreamPort}/.well-known/openid-configuration`,
      reuseExistingServer: false,
      timeout: 30_000,
      stdout: 'pipe',
      stderr: 'pipe',
    },
    {
      // WebAuthn needs a domain: this Ward's pages are at http://localhost, the relying party
      // id is `localhost`, and security keys and passkeys are on.
      command: `rm -rf ${passkeyWorkdir} && mkdir -p ${passkeyWorkdir} && cd ${passkeyWorkdir} && exec ${ward} serve --dev`,
      url: `http://127.0.0.1:${passkeyPorts.public}/health/ready`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'pipe',
      stderr: 'pipe',
      env: {
        SERVE_PUBLIC_PORT: String(passkeyPorts.public),
        SERVE_ADMIN_PORT: String(passkeyPorts.admin),
        SERVE_UI_PORT: String(passkeyPorts.ui),
        SERVE_PUBLIC_BASE_URL: `http://localhost:${passkeyPorts.public}/`,
        SERVE_UI_BASE_URL: `http://localhost:${passkeyPorts.ui}/`,
        LEPTOS_SITE_ROOT: site,
        HASHERS_ARGON2_MEMORY: '1MB',
        HASHERS_ARGON2_ITERATIONS: '1',
        SELFSERVICE_METHODS_WEBAUTHN_ENABLED: 'true',
        SELFSERVICE_METHODS_WEBAUTHN_CONFIG_RP_ID: 'localhost',
        SELFSERVICE_METHODS_PASSKEY_ENABLED: 'true',
        SELFSERVICE_METHODS_PASSKEY_CONFIG_RP_ID: 'localhost',
      },
    },
    {
      command: `rm -rf ${themedWorkdir} && mkdir -p ${themedWorkdir} && cd ${themedWorkdir} && exec ${ward} serve --dev`,
      url: `http://127.0.0.1:${themedPorts.public}/health/ready`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'pipe',
      stderr: 'pipe',
      env: {
        SERVE_PUBLIC_PORT: String(themedPorts.public),
        SERVE_ADMIN_PORT: String(themedPorts.admin),
        SERVE_UI_PORT: String(themedPorts.ui),
        LEPTOS_SITE_ROOT: site,
        HASHERS_ARGON2_MEMORY: '1MB',
        HASHERS_ARGON2_ITERATIONS: '1',
        UI_BRANDING_PRODUCT_NAME: 'Acme ID',
        UI_BRANDING_LOGO_URL: base64(logo),
        UI_THEME_TOKENS: JSON.stringify({ 'color-accent': '#0f766e', 'color-accent-dark': '#5eead4', radius: '4px' }),
        UI_THEME_STYLESHEET_URL: base64(stylesheet),
        // This Ward signs in identifier-first, with passwords or e-mailed codes.
        SELFSERVICE_FLOWS_LOGIN_STYLE: 'identifier_first',
        SELFSERVICE_METHODS_CODE_PASSWORDLESS_ENABLED: 'true',
      },
    },
  ],
});
