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

const CLIENTS = [
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

function buildProvider(issuer, keys) {
  const provider = new Provider(issuer, {
    clients: CLIENTS,
    jwks: { keys: keys.map((k) => k.jwk) },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource) => {
          if (resource !== RESOURCE) throw new errors.InvalidTarget();
          return resourceServerInfo;
        },
      },
    },
    extraTokenClaims: (ctx, token) => keycloakClaims(token),
    ttl: { AccessToken: TOKEN_TTL, ClientCredentials: TOKEN_TTL },
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

const LOCAL = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
const REALM_NAME = '([a-z0-9-]{1,40})';
const ADMIN = new RegExp(`^/admin/realms/${REALM_NAME}/(rotate|jwks-fetches|mint)$`);
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
