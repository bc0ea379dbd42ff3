// Docker's error answers: a status and {"message": ...}. The engine's coded errors map to statuses here.
import { TsboxError } from '../errors.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (m: string) => new ApiError(400, m);
export const notFound = (m: string) => new ApiError(404, m);
export const conflict = (m: string) => new ApiError(409, m);
export const notImplemented = (m: string) => new ApiError(501, m);
/** 304: start of a started container, stop of a stopped one (docker answers with no body). */
export const notModified = () => new ApiError(304, '');

const BY_CODE: Record<string, number> = {
  ERR_NO_SUCH_CONTAINER: 404,
  ERR_NO_SUCH_IMAGE: 404,
  ERR_NO_SUCH_PATH: 404,
  ERR_IMAGE_NOT_FOUND: 404,
  ERR_NOT_RUNNING: 409,
  ERR_CONFLICT: 409,
  ERR_INVALID_FILTER: 400,
  ERR_USAGE: 400,
  ERR_INVALID_ARGUMENT: 400,
  ERR_PULL_DENIED: 403,
  ERR_REGISTRY_UNREACHABLE: 500,
};

/** The status and message docker's daemon would answer with for an error the engine threw. */
export function statusOf(e: unknown): { status: number; message: string } {
  if (e instanceof ApiError) return { status: e.status, message: e.message };
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof TsboxError && BY_CODE[e.code] !== undefined) return { status: BY_CODE[e.code], message };
  // Thrown by the engine without a code: a taken name, a bad option value.
  if (/^Conflict\./.test(message)) return { status: 409, message };
  if (e instanceof RangeError || e instanceof TypeError) return { status: 400, message };
  if (/^No such (container|image)/.test(message)) return { status: 404, message };
  return { status: 500, message };
}
