/** Turns anything thrown while handling a request into an RFC 9457 problem document with pgvault's stable
 *  code, category and hint. Unknown errors become InternalErrorUnexpected with a fixed message: their text,
 *  stack and any secret inside them never reach the client. */
import {
  InternalErrorUnexpected,
  PgvaultError,
  UserErrorInvalidInput,
  UserErrorNotFound,
} from '../lib/index.ts';
import { namePattern, type Problem } from './contract/index.ts';
import {
  UserErrorBodyTooLarge,
  UserErrorMalformedJson,
  UserErrorUnsupportedMediaType,
} from './errors.ts';

interface AjvIssue {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

interface FastifyishError {
  code?: string;
  statusCode?: number;
  validation?: AjvIssue[];
  validationContext?: string;
  message?: string;
}

const titles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Maps framework and validation errors to coded errors; PgvaultErrors pass through. */
export function toPgvaultError(err: unknown): PgvaultError {
  if (err instanceof PgvaultError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as FastifyishError;
  if (Array.isArray(e.validation)) return fromValidation(e.validation, e.validationContext ?? 'request');
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new UserErrorMalformedJson('the request body is not valid JSON', {
        hint: 'Send a JSON object with Content-Type: application/json.',
      });
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new UserErrorBodyTooLarge('the request body exceeds the server body limit', {
        hint: 'Request bodies of the pgvault API are small JSON documents; check what is being sent.',
      });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new UserErrorUnsupportedMediaType('the request body has an unsupported content type', {
        hint: 'Send JSON with Content-Type: application/json.',
      });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new UserErrorInvalidInput('the Content-Length header does not match the body');
    default:
      break;
  }
  // secure-json-parse raises a SyntaxError with statusCode 400 for a body that does not parse.
  if (err instanceof SyntaxError && e.statusCode === 400) {
    return new UserErrorMalformedJson('the request body is not valid JSON', {
      hint: 'Send a JSON object with Content-Type: application/json.',
    });
  }
  if (typeof e.statusCode === 'number' && e.statusCode === 404) return new UserErrorNotFound('no such route');
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new UserErrorInvalidInput(`the request was refused (${e.code ?? `HTTP ${e.statusCode}`})`);
  }
  return new InternalErrorUnexpected('an unexpected error occurred while handling the request', { cause: err });
}

function fromValidation(issues: AjvIssue[], context: string): UserErrorInvalidInput {
  const issue = issues[0];
  if (!issue) return new UserErrorInvalidInput(`invalid ${context}`);
  const base = issue.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const at = (field: string) => (field === '' ? context : `${context} field "${field}"`);
  if (issue.keyword === 'additionalProperties') {
    const extra = String(issue.params.additionalProperty ?? '');
    const field = base === '' ? extra : `${base}.${extra}`;
    return new UserErrorInvalidInput(`unknown ${context} field "${field}"`, {
      hint: 'Remove the field; see /openapi.json for the accepted fields.',
      details: { field, location: context },
    });
  }
  if (issue.keyword === 'required') {
    const missing = String(issue.params.missingProperty ?? '');
    const field = base === '' ? missing : `${base}.${missing}`;
    return new UserErrorInvalidInput(`missing ${context} field "${field}"`, {
      hint: 'See /openapi.json for the required fields.',
      details: { field, location: context },
    });
  }
  if (issue.keyword === 'pattern' && issue.params.pattern === namePattern) {
    return new UserErrorInvalidInput(`${at(base)} is not a valid name`, {
      hint: "Names are 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit (no '/', quotes, NUL or spaces).",
      details: { field: base, location: context },
    });
  }
  return new UserErrorInvalidInput(`${at(base)} ${issue.message ?? 'is invalid'}`, {
    hint: 'See /openapi.json for the accepted values.',
    details: { field: base, location: context },
  });
}

export function problemOf(err: PgvaultError): Problem {
  const status = err.httpStatus;
  return {
    type: `https://pgvault.dev/errors#${err.code}`,
    title: titles[status] ?? (status >= 500 ? 'Server Error' : 'Client Error'),
    status,
    detail: err.message,
    code: err.code,
    category: err.category,
    ...(err.hint === undefined ? {} : { hint: err.hint }),
    ...(Object.keys(err.details).length === 0 ? {} : { details: err.details }),
  };
}
