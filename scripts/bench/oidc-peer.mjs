// The peer for the OpenID Connect benchmarks (P10): panva's oidc-provider, in memory, with the
// same client and grants as Ward's side. Usage: node oidc-peer.mjs PORT REFRESH_TOKENS OUT
// Mints REFRESH_TOKENS refresh tokens (their grants made directly, as Ward's side seeds its
// own), writes them to OUT, one per line, then serves until killed.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.resolve(import.meta.dirname, '../../end2end/package.json'));
const { default: Provider } = await import(require.resolve('oidc-provider'));

const [port, count, out] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'bench',
      client_secret: 'bench-secret-0123456789abcdef0123456789',
      grant_types: ['client_credentials', 'refresh_token', 'authorization_code'],
      redirect_uris: ['http://127.0.0.1/callback'],
      response_types: ['code'],
      scope: 'openid offline_access read',
    },
  ],
  scopes: ['openid', 'offline_access', 'read'],
  features: { clientCredentials: { enabled: true }, devInteractions: { enabled: false } },
  // Like Ward: every refresh rotates, and a used token is refused.
  rotateRefreshToken: true,
  async findAccount(_ctx, sub) {
    return { accountId: sub, async claims() { return { sub }; } };
  },
});
provider.proxy = false;

const client = await provider.Client.find('bench');
const tokens = [];
for (let i = 0; i < Number(count); i += 1) {
  const grant = new provider.Grant({ accountId: `user-${i}`, clientId: 'bench' });
  grant.addOIDCScope('offline_access');
  const grantId = await grant.save();
  const refresh = new provider.RefreshToken({
    client,
    accountId: `user-${i}`,
    grantId,
    scope: 'offline_access',
    gty: 'authorization_code',
    authTime: Math.floor(Date.now() / 1000),
  });
  tokens.push(await refresh.save());
}
writeFileSync(out, `${tokens.join('\n')}\n`);
provider.listen(Number(port), '127.0.0.1');
