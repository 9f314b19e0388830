/** The typed client of the HTTP API (global fetch), used by every CLI command and usable by any script.
 *  It calls routes from the route table by reference and turns problem+json answers into ApiProblemError,
 *  which keeps the server's code, category and hint. It never logs or echoes the token. */
import {
  PgvaultError,
  TransientError,
  UserError,
  type ErrorCategory,
} from '../../lib/index.ts';
import { routePath, type BodyOf, type ParamsOf, type QueryOf, type ResponseOf, type RouteSpec } from './routes.ts';
import type { Problem } from './schemas.ts';

/** An error answered by the server: code, category and hint are the server's. */
export class ApiProblemError extends PgvaultError {
  readonly category: ErrorCategory;
  override readonly httpStatus: number;
  readonly #code: string;
  constructor(problem: Problem) {
    super(problem.detail, { ...(problem.hint === undefined ? {} : { hint: problem.hint }), ...(problem.details ? { details: problem.details } : {}) });
    this.category = problem.category;
    this.httpStatus = problem.status;
    this.#code = problem.code;
  }
  override get code(): string {
    return this.#code;
  }
}

/** The server did not answer (refused, reset, timeout, DNS). */
export class TransientErrorServerUnreachable extends TransientError {}

/** The server answered something that is not the pgvault API (wrong URL, a proxy page). */
export class UserErrorNotPgvaultServer extends UserError {}

export interface ApiClientOptions {
  /** Base URL, e.g. http://127.0.0.1:8432 */
  url: string;
  /** The bearer token `pgv_…`; absent for public routes only. */
  token?: string;
  /** Per-request timeout; default 60 s. */
  timeoutMs?: number;
}

export type CallArgs<R extends RouteSpec> = {
  params?: ParamsOf<R>;
  query?: QueryOf<R>;
  body?: BodyOf<R>;
};

export class ApiClient {
  readonly url: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;

  constructor(opts: ApiClientOptions) {
    this.url = opts.url.replace(/\/+$/, '');
    this.#token = opts.token;
    this.#timeoutMs = opts.timeoutMs ?? 60_000;
  }

  async call<R extends RouteSpec>(route: R, args: CallArgs<R> = {}): Promise<ResponseOf<R>> {
    const path = routePath(route.url, args.params as Record<string, string> | undefined);
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries((args.query ?? {}) as Record<string, unknown>)) {
      if (v !== undefined && v !== null) qs.set(k, String(v));
    }
    const target = `${this.url}${path}${qs.size > 0 ? `?${qs.toString()}` : ''}`;
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    let body: string | undefined;
    if (args.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(args.body);
    }
    let res: Response;
    try {
      res = await fetch(target, { method: route.method, headers, body, signal: AbortSignal.timeout(this.#timeoutMs) });
    } catch (err) {
      const reason = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
      throw new TransientErrorServerUnreachable(`cannot reach the pgvault server at "${this.url}": ${reason}`, {
        hint: 'Start it with `pgvault serve`, or point the CLI at it with --url or PGVAULT_URL.',
        cause: err,
      });
    }
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    let json: unknown;
    try {
      json = text.length === 0 ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      if (type.includes('json') && isProblem(json)) throw new ApiProblemError(json);
      throw new UserErrorNotPgvaultServer(`"${this.url}" answered ${route.method} ${path} with HTTP ${res.status} and no pgvault problem document`, {
        hint: 'Check --url / PGVAULT_URL: it must point at `pgvault serve`.',
      });
    }
    if (route.status === 204) return undefined as ResponseOf<R>;
    if (json === undefined) {
      throw new UserErrorNotPgvaultServer(`"${this.url}" answered ${route.method} ${path} with no JSON body`, {
        hint: 'Check --url / PGVAULT_URL: it must point at `pgvault serve`.',
      });
    }
    return json as ResponseOf<R>;
  }
}

function isProblem(v: unknown): v is Problem {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Record<string, unknown>;
  return typeof p.code === 'string' && typeof p.detail === 'string' && typeof p.status === 'number' && typeof p.category === 'string';
}
