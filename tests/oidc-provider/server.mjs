// An OpenID Connect provider for the tests and for local sign-in: panva's certified
// `oidc-provider` (discovery, the authorization-code flow with PKCE, the token endpoint, JWKS,
// RFC 9068 JWT access tokens) with a user directory kept in memory.
//
// Its login page asks for a user name and the roles that user has (standing in for the roles an
// operator assigns in Keycloak or Auth0); access tokens carry them in the claim `--role-claim`
// names (a dotted name nests it, like Keycloak's `realm_access.roles`). A user with one role gets
// a string, with two an array (or always an array with `--role-array`).
//
// Clients: `storefront` (RS256 access tokens) and `storefront-es` (ES256), both public clients that
// must use PKCE; redirect URIs from `--redirect-uri` (repeatable). The audience is the `resource`
// asked for (RFC 8707), by default `--audience`.
//
// Test controls under /_admin (never part of a real provider): rotate the signing keys, retire the
// old ones, read how often the key set was fetched, and read the private keys so a test can sign
// tokens a real provider would never issue (expired, another audience, an unknown kid).
//
//   node server.mjs --port 0 --audience https://courses.example.com/api
// prints `listening <issuer>` once it answers.

import http from 'node:http';
import crypto from 'node:crypto';
import { parseArgs } from 'node:util';
import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    audience: { type: 'string', default: 'https://courses.example.com/api' },
    'role-claim': { type: 'string', default: 'role' },
    'role-array': { type: 'boolean', default: false },
    'redirect-uri': { type: 'string', multiple: true, default: ['http://127.0.0.1/callback'] },
    'token-ttl': { type: 'string', default: '3600' },
  },
});

const roleClaim = args['role-claim'];
const roles = new Map(); // account id -> ['student'] | ['instructor'] | both
let jwksRequests = 0;
let generation = 0;

function keyPair(kind) {
  generation += 1;
  const kid = `${kind}-${generation}-${crypto.randomBytes(4).toString('hex')}`;
  const { privateKey } = kind === 'rsa'
    ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
    : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const alg = kind === 'rsa' ? 'RS256' : 'ES256';
  return {
    jwk: { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' },
    pem: privateKey.export(kind === 'rsa'
      ? { type: 'pkcs1', format: 'pem' }
      : { type: 'pkcs8', format: 'pem' }),
    publicPem: crypto.createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }),
    kid,
    alg,
  };
}

// Newest first: the provider signs with the first key of each algorithm.
let keys = [keyPair('rsa'), keyPair('ec')];

function roleValue(list) {
  return list.length === 1 && !args['role-array'] ? list[0] : list;
}

function nest(name, value) {
  const parts = name.includes('://') ? [name] : name.split('.');
  return parts.reduceRight((inner, part) => ({ [part]: inner }), value);
}

let issuer;

function build() {
  const client = (id) => ({
    client_id: id,
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: args['redirect-uri'],
    post_logout_redirect_uris: args['redirect-uri'],
  });
  const provider = new Provider(issuer, {
    clients: [client('storefront'), client('storefront-es')],
    jwks: { keys: keys.map((k) => k.jwk) },
    cookies: { keys: ['test-provider-cookie-key-0123456789'] },
    pkce: { required: () => true },
    scopes: ['openid', 'profile', 'offline_access', 'courses'],
    claims: { openid: ['sub'], profile: ['name'] },
    ttl: { AccessToken: Number(args['token-ttl']) },
    features: {
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => args.audience,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resource, client) => ({
          scope: 'courses',
          audience: resource,
          accessTokenTTL: Number(args['token-ttl']),
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: client.clientId.endsWith('-es') ? 'ES256' : 'RS256' } },
        }),
      },
    },
    async findAccount(_ctx, id) {
      return { accountId: id, async claims() { return { sub: id, name: id }; } };
    },
    async extraTokenClaims(_ctx, token) {
      if (token.kind !== 'AccessToken' || !token.accountId) return undefined;
      return nest(roleClaim, roleValue(roles.get(token.accountId) ?? []));
    },
    // First-party clients: every user's consent is implied (oidc-provider's documented recipe
    // for skipping the consent prompt).
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) {
        const existing = await ctx.oidc.provider.Grant.find(grantId);
        if (existing) return existing;
      }
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid profile offline_access');
      grant.addResourceScope(ctx.oidc.params.resource || args.audience, 'courses');
      await grant.save();
      return grant;
    },
    interactions: { url: async (_ctx, interaction) => `/interaction/${interaction.uid}` },
  });
  provider.proxy = false;
  return provider;
}

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(uid, clientId) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in</title></head>
<body><main>
<h1>Sign in</h1>
<p>Test identity provider: sign in to ${escape(clientId)}.</p>
<form method="post" action="/interaction/${escape(uid)}/login">
<p><label for="login">User name</label> <input id="login" name="login" required autofocus autocomplete="username"></p>
<p><label for="roles">Roles</label> <select id="roles" name="roles">
<option value="student">student</option>
<option value="instructor">instructor</option>
<option value="student instructor">student and instructor</option>
</select></p>
<p><button type="submit">Sign in</button></p>
</form>
</main></body></html>`;
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 65536) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

async function readJson(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body ? JSON.parse(body) : {};
}

function json(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

let provider;
let handler;

function install() {
  provider = build();
  handler = provider.callback();
}

async function admin(req, res, path) {
  if (req.method === 'GET' && path === '/_admin/stats') {
    return json(res, 200, { jwks_requests: jwksRequests });
  }
  if (req.method === 'GET' && path === '/_admin/keys') {
    return json(res, 200, { keys: keys.map(({ kid, alg, pem, publicPem }) => ({ kid, alg, pem, public_pem: publicPem })) });
  }
  if (req.method === 'POST' && path === '/_admin/rotate') {
    keys = [keyPair('rsa'), keyPair('ec'), ...keys];
    install();
    return json(res, 200, { kids: keys.map((k) => k.kid) });
  }
  if (req.method === 'POST' && path === '/_admin/retire') {
    keys = keys.slice(0, 2);
    install();
    return json(res, 200, { kids: keys.map((k) => k.kid) });
  }
  if (req.method === 'POST' && path === '/_admin/roles') {
    const { user, roles: list } = await readJson(req);
    roles.set(user, list);
    return json(res, 200, {});
  }
  return json(res, 404, { error: 'not_found' });
}

async function interaction(req, res, path) {
  const current = provider;
  const details = await current.interactionDetails(req, res);
  if (req.method === 'GET') {
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; style-src 'self'; frame-ancestors 'none'",
    });
    return res.end(loginPage(details.uid, details.params.client_id));
  }
  if (req.method === 'POST' && path.endsWith('/login')) {
    const form = await readForm(req);
    const login = (form.get('login') || '').trim();
    const list = (form.get('roles') || 'student').split(/\s+/).filter((r) => r === 'student' || r === 'instructor');
    if (!login) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      return res.end('a user name is required');
    }
    roles.set(login, list.length ? list : ['student']);
    return current.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
  }
  res.writeHead(405);
  return res.end();
}

const server = http.createServer(async (req, res) => {
  const path = new URL(req.url, 'http://localhost').pathname;
  try {
    if (path.startsWith('/_admin/')) return await admin(req, res, path);
    if (path.startsWith('/interaction/')) return await interaction(req, res, path);
    if (path === '/jwks') jwksRequests += 1;
    return handler(req, res);
  } catch (e) {
    if (!res.headersSent) json(res, 500, { error: 'server_error', error_description: String(e?.message ?? e) });
    else res.end();
  }
});

server.listen(Number(args.port), args.host, () => {
  const { port } = server.address();
  issuer = `http://${args.host}:${port}`;
  install();
  console.log(`listening ${issuer}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
