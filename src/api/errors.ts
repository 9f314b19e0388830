/** Error codes raised by the HTTP layer itself: authentication, authorization and malformed requests.
 *  Each maps to its HTTP status through httpStatus; codes are stable (docs/errors.md). */
import { UserError } from '../lib/index.ts';

/** No token, a malformed token, an unknown or revoked token, or a wrong secret: one answer for all. */
export class UserErrorUnauthenticated extends UserError {
  override readonly httpStatus: number = 401;
}

/** The token is valid but its role lacks the permission the route requires. */
export class UserErrorPermissionDenied extends UserError {
  override readonly httpStatus: number = 403;
}

/** The body is not valid JSON (or is empty while declared as JSON). */
export class UserErrorMalformedJson extends UserError {
  override readonly httpStatus: number = 400;
}

/** The body exceeds the server's body limit. */
export class UserErrorBodyTooLarge extends UserError {
  override readonly httpStatus: number = 413;
}

/** The body has a content type the API does not accept (only application/json). */
export class UserErrorUnsupportedMediaType extends UserError {
  override readonly httpStatus: number = 415;
}
