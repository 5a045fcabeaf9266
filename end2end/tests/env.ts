// Ward runs on its own ports here so a `make run` instance can stay up beside the tests.
export const ports = { public: 14433, admin: 14434, ui: 14455 };
// The Ward with security keys and passkeys, whose pages are at http://localhost.
export const passkeyPorts = { public: 15433, admin: 15434, ui: 15455 };
export const passkeyUI = `http://localhost:${passkeyPorts.ui}`;
// The Ward themed by configuration (ui.branding, ui.theme).
export const themedPorts = { public: 16433, admin: 16434, ui: 16455 };
export const themedUI = `http://127.0.0.1:${themedPorts.ui}`;
export const publicURL = `http://127.0.0.1:${ports.public}`;
/** The upstream for social sign-in: panva's oidc-provider (fixtures/oidc-upstream.mjs). */
export const upstreamPort = 14480;
export const adminURL = `http://127.0.0.1:${ports.admin}`;

/** A fresh address per test, so tests never depend on each other's accounts. */
export function uniqueEmail(prefix: string): string {
  return `${prefix}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
}
