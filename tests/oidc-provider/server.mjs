// An OpenID provider for Flowrex's tests: the certified oidc-provider on loopback, with
// one confidential client and test users. Its own development login and consent pages
// (devInteractions) sign in any listed user by id. Configured by the environment:
//   PORT            where it listens (127.0.0.1)
//   REDIRECT_URIS   comma-separated callbacks of the client `flowrex`
//   ACCOUNTS        JSON: {"user-id": {"email": "...", "email_verified": true, "name": "..."}}
// It prints "ready" once it listens, and stops on SIGTERM.
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const accounts = JSON.parse(process.env.ACCOUNTS || '{}');
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'flowrex',
      client_secret: 'flowrex-test-secret',
      redirect_uris: (process.env.REDIRECT_URIS || '').split(',').filter(Boolean),
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...account }; } };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  // The scopes' claims in the ID token itself, as Google and Microsoft send them.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
});
provider.on('server_error', (ctx, error) => console.error('server_error', error));

const server = provider.listen(port, '127.0.0.1', () => console.log('ready'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
