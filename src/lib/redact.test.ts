import { describe, expect, it } from 'vitest';
import { redact, registerSecret } from './redact.ts';

describe('redact', () => {
  it('removes the password from connection URIs of any scheme', () => {
    expect(redact('could not connect to postgresql://backup:s3cr%40t@db.example:5432/app'))
      .toBe('could not connect to postgresql://backup:[redacted]@db.example:5432/app');
    expect(redact('https://user:pw@host/x')).toBe('https://user:[redacted]@host/x');
  });
  it('removes key=value passwords, quoted or not, and bearer tokens', () => {
    expect(redact("host=h password='a b c' dbname=x")).toBe('host=h password=[redacted] dbname=x');
    expect(redact('host=h password=abc dbname=x')).toBe('host=h password=[redacted] dbname=x');
    expect(redact('Authorization: Bearer pgv_abc.def')).toBe('Authorization: Bearer [redacted]');
    expect(redact('https://acct.blob.core.windows.net/c?sv=1&sig=SECRETSIG&se=2')).toBe('https://acct.blob.core.windows.net/c?sv=1&sig=[redacted]&se=2');
  });
  it('removes registered secret values wherever they appear', () => {
    registerSecret('correct horse battery');
    expect(redact('pg_dump: error: password "correct horse battery" rejected')).toBe('pg_dump: error: password "[redacted]" rejected');
  });
  it('leaves ordinary text alone', () => {
    expect(redact('dumping table "public"."users"')).toBe('dumping table "public"."users"');
  });
});
