/** One place that removes secrets from text: passwords in connection URIs and key=value connection strings,
 *  bearer tokens, and any value registered at run time (resolved credentials, passphrases).
 *  Used by errors, logs and job output. It must never throw and never return the secret. */

const registered = new Set<string>();

/** Registers a secret value so that redact() removes it wherever it appears. Short values are ignored
 *  (a 1-3 character "secret" would shred ordinary text); such passwords are still kept out of argv and logs by design. */
export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= 4) registered.add(value);
}

export function redact(text: string): string {
  let out = text;
  for (const secret of registered) {
    if (out.includes(secret)) out = out.split(secret).join('[redacted]');
  }
  return out
    // postgresql://user:password@host → postgresql://user:[redacted]@host (any scheme with userinfo)
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):([^@/?#\s]*)@/gi, '$1:[redacted]@')
    // password=secret or password='se cret' in libpq key/value strings and query strings
    .replace(/(\b(?:password|passphrase|sslpassword|secret|token|accountkey|sig)=)('(?:[^'\\]|\\.)*'|[^\s&;]+)/gi, '$1[redacted]')
    .replace(/(\bBearer\s+)[A-Za-z0-9._~+/=-]+/g, '$1[redacted]');
}
