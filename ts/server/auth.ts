// POST /auth (docker login): the credentials checked against the registry's /v2/ (basic, or a bearer
// token fetched with them); the client keeps them and sends them back as X-Registry-Auth.
import { ApiError, badRequest } from './errors.js';
import { checkFields, jsonBody, sendJson, type Ctx, type Router } from './router.js';

async function auth(c: Ctx): Promise<void> {
  const b = await jsonBody(c);
  checkFields('auth', b, ['username', 'password', 'serveraddress', 'email', 'auth', 'identitytoken', 'registrytoken']);
  const user = typeof b.username === 'string' ? b.username : '';
  const pass = typeof b.password === 'string' ? b.password : '';
  const server = String(b.serveraddress ?? '').replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  if (!server || !/^[a-zA-Z0-9.-]+(:\d+)?$/.test(server)) throw badRequest(`auth: invalid serveraddress ${JSON.stringify(b.serveraddress)}`);
  // Plain http only for a registry on this host, as the engine's pull and push have it.
  const scheme = /^(localhost|127\.\d+\.\d+\.\d+)(:\d+)?$/.test(server) ? 'http' : 'https';
  const basic = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  let res: Response;
  try {
    res = await fetch(`${scheme}://${server}/v2/`, { headers: { Authorization: basic }, signal: AbortSignal.timeout(30_000) });
  } catch (e) {
    throw new ApiError(500, `Get "${scheme}://${server}/v2/": ${(e as Error).message}`);
  }
  const challenge = res.headers.get('www-authenticate') ?? '';
  await res.arrayBuffer().catch(() => undefined);
  if (res.status === 401 && /^Bearer /i.test(challenge)) {
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (!params.realm) throw new ApiError(500, `login ${server}: a bearer challenge without a realm`);
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    const t = await fetch(url, { headers: { Authorization: basic }, signal: AbortSignal.timeout(30_000) });
    await t.arrayBuffer().catch(() => undefined);
    if (t.ok) return sendJson(c, 200, { Status: 'Login Succeeded', IdentityToken: '' });
  } else if (res.ok) return sendJson(c, 200, { Status: 'Login Succeeded', IdentityToken: '' });
  throw new ApiError(401, `Get "${scheme}://${server}/v2/": unauthorized: incorrect username or password`);
}

export function authRoutes(r: Router): void {
  r.on('POST', '/auth', auth);
}
