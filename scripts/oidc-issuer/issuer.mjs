// Coffer's test OIDC issuer: oidc-provider instances that look like Keycloak
// realms (`/realms/<realm>`), issuing RS256 JWT access tokens for the audience
// `coffer` with Keycloak-shaped claims. TEST ONLY: it knows fixed passwords,
// mints arbitrary tokens and rotates keys on request.
//
// Every realm name ([a-z0-9-]{1,40}) is created on first use with its own key,
// so a test that rotates keys or counts JWKS fetches uses a realm of its own and
// cannot disturb tests running in parallel. Realm `coffer` is the shared one.
//
// Admin routes (127.0.0.1 only):
//   GET  /admin/health
//   POST /admin/realms/<realm>/rotate        -> {kid}   new signing key; the old ones stay published
//                                                     unless the body is {"retire": true}
//   GET  /admin/realms/<realm>/jwks-fetches  -> {count} GETs of the realm's JWKS so far
//   POST /admin/realms/<realm>/mint          -> {token} body {claims?, header?, sign?}
//        claims/header are merged over defaults (null deletes a default);
//        sign: "rs256" (current key, default) | "hs256-public-key" | "none"
//
// Device authorization grant (RFC 8628), for `coffer login`: public clients
// `coffer-device` (access tokens of 600 s) and `coffer-device-short` (4 s, to
// see tokens renewed mid-transfer), both with refresh tokens. Every endpoint
// is in the realm's discovery document. A scripted sign-in (cookies kept):
//   1. POST {device_authorization_endpoint} client_id=coffer-device
//        -> {device_code, user_code, verification_uri_complete, interval}
//   2. GET  {verification_uri_complete}          -> a form with hidden `xsrf`
//      POST {verification_uri} xsrf, user_code, confirm=yes
//        -> 303 to /realms/<realm>/interaction/<uid>
//   3. POST /realms/<realm>/interaction/<uid> username, password
//        -> 303 back into the provider -> 303 ... -> the success page
//      (consent is implied for these first-party clients)
//   4. the device's POST {token_endpoint} grant_type=device_code now answers
//      the tokens; grant_type=refresh_token renews them.
import { createHmac, createPublicKey, generateKeyPair, randomUUID, sign as rsaSign } from 'node:crypto';
import { promisify } from 'node:util';
import { createServer } from 'node:http';

import Provider, { errors } from 'oidc-provider';

const HOST = '127.0.0.1';
const PORT = Number(process.env.PORT ?? 28470);
const BASE = `http://${HOST}:${PORT}`;
const AUDIENCE = 'coffer';
const RESOURCE = 'urn:coffer:api';
const PASSWORD = process.env.COFFER_TEST_OIDC_PASSWORD ?? 'coffer-test-password';
const CLI_SECRET = process.env.COFFER_TEST_OIDC_CLI_SECRET ?? 'coffer-cli-secret';
const SVC_SECRET = process.env.COFFER_TEST_OIDC_SERVICE_SECRET ?? 'coffer-svc-secret';
const TOKEN_TTL = 600;

const ACME_ORG_ID = '6f1c1a52-3f0e-4d8e-9b1a-0c5e2b7d9a01';
const GLOBEX_ORG_ID = '0b8e4c7a-2d3f-4a6b-8c9d-1e2f3a4b5c6d';

// Users of the password grant, with the claims Keycloak mappers would add.
const USERS = {
  // tenant from a user-attribute mapper; a role of another client that must be ignored
  alice: {
    tenant: 'acme',
    realm_access: { roles: ['editor', 'offline_access', 'default-roles-coffer'] },
    resource_access: { account: { roles: ['manage-account'] }, 'other-app': { roles: ['admin'] } },
  },
  // Organizations, list shape; admin as a client role of `coffer`
  bob: {
    organization: ['globex'],
    realm_access: { roles: ['default-roles-coffer'] },
    resource_access: { coffer: { roles: ['admin'] } },
  },
  // Organizations, map shape, two organisations
  carol: {
    organization: { acme: { id: ACME_ORG_ID }, globex: { id: GLOBEX_ORG_ID } },
    realm_access: { roles: ['viewer'] },
  },
  // Organizations, list shape, two organisations
  dave: {
    organization: ['acme', 'globex'],
    realm_access: { roles: ['viewer', 'editor'] },
  },
  // Organizations, map shape, one organisation
  erin: {
    organization: { initech: { id: '9a3b5c7d-1e2f-4a6b-8c9d-0e1f2a3b4c5d' } },
    resource_access: { coffer: { roles: ['viewer'] } },
  },
  // tenant named by its UUID
  frank: {
    tenant: '0192f0c4-7a4b-7c3d-9e8f-123456789abc',
    realm_access: { roles: ['admin'] },
  },
  // platform administrator, no tenant
  root: {
    realm_access: { roles: ['platform-admin'] },
  },
};

// Service clients (client_credentials) and their service-account claims.
const SERVICE_CLAIMS = {
  'coffer-svc': {
    tenant: 'acme',
    resource_access: { coffer: { roles: ['editor'] } },
  },
};

// Access token lifetime per client (seconds).
const DEVICE_CLIENTS = { 'coffer-device': TOKEN_TTL, 'coffer-device-short': 4 };

// The web app's client: Coffer's server runs the authorization code flow
// with PKCE for the browser. Native, so that its loopback redirect URI
// matches any port (RFC 8252 7.3): each test server listens on its own.
const WEB_CLIENT = 'coffer-web';

// Clients whose grant is implied (no consent page), as for Keycloak's
// first-party clients.
const FIRST_PARTY = new Set([...Object.keys(DEVICE_CLIENTS), WEB_CLIENT]);

const CLIENTS = [
  ...Object.keys(DEVICE_CLIENTS).map((client_id) => ({
    client_id,
    token_endpoint_auth_method: 'none',
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    redirect_uris: [],
    response_types: [],
  })),
  {
    client_id: WEB_CLIENT,
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/app/callback'],
    post_logout_redirect_uris: ['http://127.0.0.1/'],
  },
  {
    client_id: 'coffer-cli',
    client_secret: CLI_SECRET,
    grant_types: ['password'],
    redirect_uris: [],
    response_types: [],
  },
  {
    client_id: 'coffer-svc',
    client_secret: SVC_SECRET,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
  },
];

const resourceServerInfo = {
  scope: 'api',
  audience: AUDIENCE,
  accessTokenTTL: TOKEN_TTL,
  accessTokenFormat: 'jwt',
  jwt: { sign: { alg: 'RS256' } },
};

// Key generation runs on libuv's thread pool, never on the event loop: a
// synchronous generateKeyPairSync was seen to leave the whole issuer hung
// (main thread parked on a futex, connections queued unaccepted) under the
// load of a full test run.
const generateKeyPairAsync = promisify(generateKeyPair);

async function newKey() {
  const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  const kid = randomUUID();
  return { kid, privateKey, jwk: { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' } };
}

function keycloakClaims(token) {
  if (token.kind === 'ClientCredentials') {
    return { azp: token.clientId, client_id: token.clientId, ...(SERVICE_CLAIMS[token.clientId] ?? {}) };
  }
  return { azp: token.clientId, typ: 'Bearer', ...(USERS[token.accountId] ?? {}) };
}

async function passwordGrant(ctx) {
  const { client, params, provider } = ctx.oidc;
  if (!Object.hasOwn(USERS, params.username ?? '') || params.password !== PASSWORD) {
    throw new errors.InvalidGrant('invalid username or password');
  }
  const token = new provider.AccessToken({
    accountId: params.username,
    client,
    grantId: randomUUID(),
    scope: 'api',
    resourceServer: new provider.ResourceServer(RESOURCE, resourceServerInfo),
  });
  ctx.oidc.entity('AccessToken', token);
  const value = await token.save();
  ctx.body = { access_token: value, expires_in: token.expiration, token_type: 'Bearer', scope: 'api' };
}

const page = (title, body) => `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head>`
  + `<body><h1>${title}</h1>${body}</body></html>`;

function buildProvider(issuer, keys) {
  const mount = new URL(issuer).pathname;
  const provider = new Provider(issuer, {
    clients: CLIENTS,
    jwks: { keys: keys.map((k) => k.jwk) },
    findAccount: (ctx, id) => (Object.hasOwn(USERS, id) ? { accountId: id, claims: () => ({ sub: id }) } : undefined),
    interactions: { url: (ctx, interaction) => `${mount}/interaction/${interaction.uid}` },
    // First-party clients: the grant is implied, no consent page.
    loadExistingGrant: async (ctx) => {
      const { client, session, result, provider: p } = ctx.oidc;
      const grantId = result?.consent?.grantId || session.grantIdFor(client.clientId);
      if (grantId) return p.Grant.find(grantId);
      if (!FIRST_PARTY.has(client.clientId) || !session.accountId) return undefined;
      const grant = new p.Grant({ clientId: client.clientId, accountId: session.accountId });
      grant.addOIDCScope('openid offline_access');
      grant.addResourceScope(RESOURCE, 'api');
      await grant.save();
      return grant;
    },
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      deviceFlow: {
        enabled: true,
        userCodeInputSource: async (ctx, form) => { ctx.body = page('Enter your code', form); },
        userCodeConfirmSource: async (ctx, form, client, deviceInfo, userCode) => {
          ctx.body = page('Confirm', `<p>${userCode}</p>${form}<button type="submit" form="op.deviceConfirmForm">Continue</button>`);
        },
        successSource: async (ctx) => { ctx.body = page('Signed in', '<p>You can close this page.</p>'); },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource, client) => {
          if (resource !== RESOURCE) throw new errors.InvalidTarget();
          const ttl = DEVICE_CLIENTS[client?.clientId];
          return ttl ? { ...resourceServerInfo, accessTokenTTL: ttl } : resourceServerInfo;
        },
      },
    },
    extraTokenClaims: (ctx, token) => keycloakClaims(token),
    ttl: {
      // Per resource server (and so per device client, above).
      AccessToken: (ctx, token) => token.resourceServer?.accessTokenTTL ?? TOKEN_TTL,
      ClientCredentials: (ctx, token) => token.resourceServer?.accessTokenTTL ?? TOKEN_TTL,
      DeviceCode: 600,
      RefreshToken: 24 * 3600,
      Grant: 24 * 3600,
      Session: 24 * 3600,
      Interaction: 600,
    },
  });
  provider.registerGrantType('password', passwordGrant, ['username', 'password', 'resource']);
  return provider;
}

// name -> Promise of the realm: concurrent first requests share one.
const realms = new Map();

function realm(name) {
  let r = realms.get(name);
  if (!r) {
    r = (async () => {
      const issuer = `${BASE}/realms/${name}`;
      const keys = [await newKey()];
      return { name, issuer, keys, provider: buildProvider(issuer, keys), jwksFetches: 0 };
    })();
    r.catch(() => realms.delete(name));
    realms.set(name, r);
  }
  return r;
}

async function rotate(r, { retire = false } = {}) {
  const key = await newKey();
  if (retire) r.keys.length = 0;
  r.keys.unshift(key);
  r.provider = buildProvider(r.issuer, r.keys);
  return r.keys[0].kid;
}

const b64url = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

function merge(defaults, overrides) {
  const out = { ...defaults, ...(overrides ?? {}) };
  for (const [k, v] of Object.entries(out)) if (v === null) delete out[k];
  return out;
}

function mint(r, { claims, header, sign = 'rs256' } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const [current] = r.keys;
  const payload = merge({
    iss: r.issuer,
    aud: AUDIENCE,
    sub: 'alice',
    azp: 'coffer-cli',
    typ: 'Bearer',
    iat: now,
    exp: now + TOKEN_TTL,
    jti: randomUUID(),
    tenant: 'acme',
    realm_access: { roles: ['editor'] },
  }, claims);
  const alg = { rs256: 'RS256', 'hs256-public-key': 'HS256', none: 'none' }[sign];
  if (!alg) throw new Error(`unknown sign mode ${sign}`);
  const head = merge({ alg, typ: 'at+jwt', kid: current.kid }, header);
  const input = `${b64url(head)}.${b64url(payload)}`;
  let signature = '';
  if (sign === 'rs256') {
    signature = rsaSign('sha256', Buffer.from(input), current.privateKey).toString('base64url');
  } else if (sign === 'hs256-public-key') {
    // The classic algorithm-confusion attack: HMAC keyed with the public key's PEM.
    const pem = createPublicKey(current.privateKey).export({ type: 'spki', format: 'pem' });
    signature = createHmac('sha256', pem).update(input).digest('base64url');
  }
  return `${input}.${signature}`;
}

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : {};
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

// The sign-in page of an interaction: a password form (the users and the
// password of the password grant).
async function interaction(r, req, res) {
  const details = await r.provider.interactionDetails(req, res);
  if (details.prompt.name === 'consent' && FIRST_PARTY.has(details.params.client_id)) {
    // First-party clients are granted what they asked for, without a page.
    const missing = details.prompt.details;
    const grant = details.grantId
      ? await r.provider.Grant.find(details.grantId)
      : new r.provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    return r.provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  const form = (error) => page('Sign in', `${error ? `<p>${error}</p>` : ''}`
    + `<form method="post"><label>Username <input name="username"></label>`
    + `<label>Password <input name="password" type="password"></label><button>Sign in</button></form>`);
  if (req.method !== 'POST') {
    res.writeHead(200, { 'content-type': 'text/html' });
    return res.end(form());
  }
  const params = await readForm(req);
  const username = params.get('username') ?? '';
  if (!Object.hasOwn(USERS, username) || params.get('password') !== PASSWORD) {
    res.writeHead(401, { 'content-type': 'text/html' });
    return res.end(form('Wrong username or password.'));
  }
  const result = details.prompt.name === 'login' ? { login: { accountId: username } } : {};
  return r.provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

const LOCAL = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
const REALM_NAME = '([a-z0-9-]{1,40})';
const ADMIN = new RegExp(`^/admin/realms/${REALM_NAME}/(rotate|jwks-fetches|mint|users)$`);
const REALM = new RegExp(`^/realms/${REALM_NAME}(/.*)?$`);

async function admin(req, res, path) {
  if (!LOCAL.has(req.socket.remoteAddress)) return send(res, 403, { error: 'admin routes are local only' });
  if (path === '/admin/health') return send(res, 200, { ok: true });
  const m = ADMIN.exec(path);
  if (!m) return send(res, 404, { error: 'no such admin route' });
  const r = await realm(m[1]);
  switch (`${req.method} ${m[2]}`) {
    case 'POST rotate': return send(res, 200, { kid: await rotate(r, await readJson(req)) });
    case 'GET jwks-fetches': return send(res, 200, { count: r.jwksFetches });
    case 'POST mint': return send(res, 200, { token: mint(r, await readJson(req)) });
    // A user of the sign-in page (and the password grant) with the claims
    // Keycloak's mappers would add, as an admin adds one to a realm.
    case 'POST users': {
      const { username, claims } = await readJson(req);
      if (typeof username !== 'string' || !/^[A-Za-z0-9._@-]{1,100}$/.test(username)) {
        return send(res, 400, { error: 'username: 1 to 100 of A-Z a-z 0-9 . _ @ -' });
      }
      USERS[username] = claims ?? {};
      return send(res, 201, { username });
    }
    default: return send(res, 405, { error: 'method not allowed' });
  }
}

const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url, BASE);
    if (url.pathname.startsWith('/admin/')) return await admin(req, res, url.pathname);
    const m = REALM.exec(url.pathname);
    if (!m) return send(res, 404, { error: 'not found' });
    const r = await realm(m[1]);
    const rest = m[2] ?? '/';
    if (req.method === 'GET' && rest === '/jwks') r.jwksFetches += 1;
    if (/^\/interaction\/[^/]+$/.test(rest)) return await interaction(r, req, res);
    // Mounted under a prefix: oidc-provider derives its mount path from originalUrl.
    req.originalUrl = req.url;
    req.url = rest + url.search;
    return await r.provider.callback()(req, res);
  } catch (err) {
    console.error(err);
    if (!res.headersSent) send(res, 500, { error: String(err?.message ?? err) });
  }
});

server.listen(PORT, HOST, async () => {
  await realm('coffer');
  console.log(`test OIDC issuer listening on ${BASE} (realm coffer: ${BASE}/realms/coffer)`);
});
