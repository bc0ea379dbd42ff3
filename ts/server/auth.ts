// POST /auth (docker login): the credentials checked by the engine against the registry; the client keeps
// them and sends them back as X-Registry-Auth.
import { PullDeniedError } from '../errors.js';
import { ApiError } from './errors.js';
import { checkFields, jsonBody, sendJson, type Ctx, type Router } from './router.js';

async function auth(c: Ctx): Promise<void> {
  const b = await jsonBody(c);
  checkFields('auth', b, ['username', 'password', 'serveraddress', 'email', 'auth', 'identitytoken', 'registrytoken']);
  const user = typeof b.username === 'string' ? b.username : '';
  const pass = typeof b.password === 'string' ? b.password : '';
  const server = String(b.serveraddress ?? '');
  try {
    await c.engine.images.login(server, { username: user, password: pass });
  } catch (e) {
    // dockerd answers refused credentials with 401 (a pull refused is a 403).
    if (e instanceof PullDeniedError) throw new ApiError(401, e.message);
    throw e;
  }
  sendJson(c, 200, { Status: 'Login Succeeded', IdentityToken: '' });
}

export function authRoutes(r: Router): void {
  r.on('POST', '/auth', auth);
}
