/** Validation at the catalog boundary: names, references, URLs, durations, schedules, enums. Every failure is a
 *  UserErrorInvalidInput naming the field and carrying a hint; the offending value is quoted only when it
 *  cannot be a secret (never for URLs with userinfo or credential references). Pure: no I/O. */
import { parseSchedule, PgvaultError, UserErrorInvalidInput } from '../lib/index.ts';

function invalid(field: string, message: string, hint: string): UserErrorInvalidInput {
  return new UserErrorInvalidInput(`${field}: ${message}`, { hint, details: { field } });
}

const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
export const maxNameLength = 63;

/** Names of vaults, policies, instances, secrets, tokens: 1–63 of [A-Za-z0-9._-], starting alphanumeric,
 *  no "..", so a name is safe in a path, a URL, a log line and a shell. */
export function validateName(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw invalid(field, 'a name is required', 'Use 1–63 letters, digits, ".", "_" or "-".');
  if (value.length > maxNameLength) throw invalid(field, `a name is at most ${maxNameLength} characters (got ${value.length})`, 'Use a shorter name.');
  if (!namePattern.test(value) || value.includes('..')) {
    throw invalid(field, 'a name may hold only letters, digits, ".", "_" and "-", must start with a letter or digit and may not contain ".."',
      'For example "prod-db", "billing_2026" or "eu.west".');
  }
  return value;
}

/** Free text we store (database names, owners, actors, messages): bounded, no NUL. */
export function validateText(field: string, value: unknown, maxLength = 1024): string {
  if (typeof value !== 'string' || value.length === 0) throw invalid(field, 'a value is required', 'Give a non-empty value.');
  if (value.length > maxLength) throw invalid(field, `at most ${maxLength} characters`, 'Shorten the value.');
  if (value.includes('\0')) throw invalid(field, 'may not contain a NUL character', 'Remove the NUL byte.');
  return value;
}

/** A PostgreSQL identifier as given by the user (a database or role name): 1–63 bytes, no NUL. Quotes are
 *  allowed by PostgreSQL but refused here: they are never needed for a name pgvault must pass around. */
export function validatePgIdentifier(field: string, value: unknown): string {
  const v = validateText(field, value, 63);
  if (Buffer.byteLength(v) > 63) throw invalid(field, 'a PostgreSQL name is at most 63 bytes', 'Use the name as PostgreSQL stores it.');
  if (/["'\\]/.test(v)) throw invalid(field, 'may not contain quotes or backslashes', 'Use the name as PostgreSQL stores it, without quoting.');
  return v;
}

export function validateEnum<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalid(field, `must be one of ${allowed.join(', ')}`, `Use one of: ${allowed.join(', ')}.`);
  }
  return value as T;
}

export function validateInteger(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(field, `must be an integer from ${min} to ${max}`, `Give a whole number between ${min} and ${max}.`);
  }
  return value;
}

const credentialSchemes = ['secret:', 'env:', 'file:', 'azure-keyvault:'];

/** A credential (or key) reference: only its shape is checked here; src/secrets parses and resolves it.
 *  A reference that looks like a literal password or a URI with a password is refused. */
export function validateCredentialReference(field: string, value: unknown): string {
  if (typeof value !== 'string' || !credentialSchemes.some((s) => value.startsWith(s))) {
    throw invalid(field, 'must be a credential reference (secret:NAME, env:VAR, file:/path or azure-keyvault:https://…)',
      'Store the password with `pgvault secret set NAME` and give "secret:NAME"; never put a password here.');
  }
  if (value.length > 1024 || value.includes('\0') || /\s/.test(value)) {
    throw invalid(field, 'a credential reference is at most 1024 characters without spaces or NUL', 'Check the reference.');
  }
  return value;
}

/** A storage URL for a vault: file:///abs/path, s3://bucket/prefix, azure-blob://account/container/prefix or
 *  https://… (Azure Blob). Credentials never belong in it. */
export function validateStorageUrl(field: string, value: unknown): string {
  const v = validateText(field, value, 2048);
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw invalid(field, 'is not a URL', 'For example file:///srv/pgvault/vaults/prod, s3://bucket/prefix or azure-blob://account/container.');
  }
  if (!['file:', 's3:', 'azure-blob:', 'https:', 'http:'].includes(url.protocol)) {
    throw invalid(field, `storage scheme "${url.protocol}" is not supported`, 'Use file://, s3://, azure-blob:// or https:// (Azure Blob).');
  }
  if (url.password !== '' || /[?&](sig|accountkey|x-amz-signature|x-amz-credential)=/i.test(url.search)) {
    throw invalid(field, 'may not contain credentials', 'Give storage credentials through the environment or a credential reference, not in the URL.');
  }
  const rawPath = v.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '').split(/[?#]/)[0] ?? '';
  if (rawPath.split('/').some((seg) => seg === '..' || seg === '.' || /^(%2e|\.){1,2}$/i.test(seg))) throw invalid(field, 'may not contain ".." path segments', 'Give an absolute, normalised path.');
  return v;
}

/** A PostgreSQL server URL without password: postgresql://user@host:port[/db][?sslmode=…]. */
export function validateServerUrl(field: string, value: unknown): string {
  const v = validateText(field, value, 2048);
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw invalid(field, 'is not a URL', 'For example postgresql://backup@db.example.com:5432/postgres.');
  }
  if (url.protocol !== 'postgresql:' && url.protocol !== 'postgres:') {
    throw invalid(field, 'must be a postgresql:// URL', 'For example postgresql://backup@db.example.com:5432/postgres.');
  }
  if (url.password !== '' || /[?&]password=/i.test(url.search)) {
    throw invalid(field, 'may not contain a password', 'Remove the password from the URL and give it through the credential reference.');
  }
  if (url.hostname === '' && !url.searchParams.has('host')) {
    throw invalid(field, 'names no host', 'For example postgresql://backup@db.example.com:5432/postgres, or ?host=/var/run/postgresql for a socket.');
  }
  return v;
}

const durationPattern = /^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$/;

/** An ISO 8601 retention duration in whole years, months, weeks and days, from P1D to P10Y. */
export function validateRetentionDuration(field: string, value: unknown): string {
  const m = typeof value === 'string' ? durationPattern.exec(value) : null;
  if (!m) throw invalid(field, 'must be an ISO 8601 duration of years, months, weeks and days', 'For example P7D, P4W, P12M or P10Y.');
  const [y, mo, w, d] = [m[1], m[2], m[3], m[4]].map((x) => Number(x ?? 0)) as [number, number, number, number];
  const approxDays = y * 365.25 + mo * 30.44 + w * 7 + d;
  if (approxDays < 1) throw invalid(field, 'must be at least one day', 'For example P7D.');
  if (y * 12 + mo > 120 || approxDays > 3653) throw invalid(field, 'may not exceed ten years (P10Y)', 'Use at most P10Y.');
  return value as string;
}

export function validateTimeZone(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 64) throw invalid(field, 'an IANA time zone is required', 'For example "Europe/Berlin" or "UTC".');
  try {
    new Intl.DateTimeFormat('en', { timeZone: value });
  } catch {
    throw invalid(field, `unknown time zone "${value.replace(/[^\w/+-]/g, '?')}"`, 'Use an IANA time zone such as "Europe/Berlin" or "UTC".');
  }
  return value;
}

const repeatingPattern = /^R(\d*)\/(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)\/P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?!$)(?:(\d+)H)?(?:(\d+)M)?)?$/;

/** An ISO 8601 repeating interval with a local start (no offset: the time zone says where) and a period of at
 *  least one hour: R/2026-01-04T02:00:00/P1W, R/2026-01-01T01:30/P1D, R5/2026-01-01T00:00/PT6H. */
export function validateRepeatingInterval(field: string, value: unknown): string {
  const m = typeof value === 'string' ? repeatingPattern.exec(value) : null;
  if (!m) {
    throw invalid(field, 'must be an ISO 8601 repeating interval R[n]/<local start>/<period>',
      'For example R/2026-01-04T02:00:00/P1W (weekly, Sunday 02:00 in the schedule\'s time zone).');
  }
  const start = new Date(`${m[2]}Z`);
  if (Number.isNaN(start.getTime())) throw invalid(field, 'the start is not a valid date and time', 'For example 2026-01-04T02:00:00.');
  const [y, mo, w, d, h, min] = [m[3], m[4], m[5], m[6], m[7], m[8]].map((x) => Number(x ?? 0)) as number[];
  const minutes = (((y! * 365 + mo! * 28 + w! * 7 + d!) * 24) + h!) * 60 + min!;
  if (minutes < 60) throw invalid(field, 'the period must be at least one hour', 'For example PT1H, P1D or P1W.');
  // The scheduler's own parser has the last word, so that nothing the catalog stores is refused at every tick (R0 …).
  try {
    parseSchedule(value as string, 'UTC');
  } catch (err) {
    if (err instanceof PgvaultError) throw invalid(field, err.message, err.hint ?? 'For example R/2026-01-04T02:00:00/P1W.');
    throw err;
  }
  return value as string;
}
