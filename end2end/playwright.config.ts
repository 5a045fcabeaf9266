import { defineConfig } from '@playwright/test';
import * as os from 'node:os';
import * as path from 'node:path';

import { passkeyPorts, ports, upstreamPort } from './tests/env';

const root = path.resolve(__dirname, '..');
const ward = process.env.WARD_BIN ?? path.join(root, 'target', 'debug', 'ward');
const workdir = path.join(os.tmpdir(), `ward-e2e-${process.pid}`);
const passkeyWorkdir = path.join(os.tmpdir(), `ward-e2e-passkeys-${process.pid}`);
const site = path.join(root, 'target', 'site');

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
  ],
});
