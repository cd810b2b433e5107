// A real OpenID Connect provider (oidc-provider) for the OAuth sign-in tests.
//
// Listens on 127.0.0.1 on a free port and prints one JSON line {"issuer": ...} once ready.
// One client (CLIENT_ID / CLIENT_SECRET / REDIRECT_URI from the environment). The login
// interaction signs in ACCOUNT_EMAIL at once (EMAIL_VERIFIED=false makes its address unverified);
// consent is pre-granted for openid and email. Everything else (PKCE, state, code exchange,
// userinfo) is the certified library's own behaviour.
import http from 'node:http';
import Provider from 'oidc-provider';

const env = (name, fallback) => process.env[name] ?? fallback;
const email = env('ACCOUNT_EMAIL', 'oidc.user@example.com');
const emailVerified = env('EMAIL_VERIFIED', 'true') === 'true';

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: env('CLIENT_ID', 'ticketing'),
    client_secret: env('CLIENT_SECRET', 'ticketing-secret'),
    redirect_uris: [env('REDIRECT_URI', 'http://localhost:8080/api/auth/oauth/test/callback')],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  cookies: { keys: ['test-only-cookie-key'] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    return { accountId: id, async claims() { return { sub: id, email, email_verified: emailVerified }; } };
  },
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email');
    await grant.save();
    return grant;
  },
});

const handler = provider.callback();
server.on('request', async (req, res) => {
  if (req.url.startsWith('/interaction/')) {
    try {
      await provider.interactionDetails(req, res);
      await provider.interactionFinished(req, res, { login: { accountId: 'user-1' } }, { mergeWithLastSubmission: false });
    } catch (error) {
      res.statusCode = 400;
      res.end(String(error));
    }
    return;
  }
  handler(req, res);
});

console.log(JSON.stringify({ issuer }));
