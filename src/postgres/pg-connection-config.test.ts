import { describe, expect, it } from 'vitest';
import { UserErrorInvalidInput } from '../lib/index.ts';
import { parsePgUrl, quoteConninfoValue, toConninfo } from './pg-connection-config.ts';

/** A minimal model of libpq's conninfo parser (conninfo_parse in fe-connect.c): keyword, "=", then a bare value up
 *  to whitespace, or a single-quoted value where backslash escapes the next character. */
function parseConninfo(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  const ws = (): void => {
    while (i < s.length && /\s/.test(s[i] as string)) i++;
  };
  for (;;) {
    ws();
    if (i >= s.length) return out;
    let key = '';
    while (i < s.length && s[i] !== '=' && !/\s/.test(s[i] as string)) key += s[i++];
    ws();
    if (s[i++] !== '=') throw new Error(`missing = after ${key}`);
    ws();
    let value = '';
    if (s[i] === "'") {
      i++;
      for (;;) {
        if (i >= s.length) throw new Error('unterminated quote');
        const ch = s[i++] as string;
        if (ch === '\\') value += s[i++] ?? '';
        else if (ch === "'") break;
        else value += ch;
      }
    } else {
      while (i < s.length && !/\s/.test(s[i] as string)) value += s[i++];
    }
    out[key] = value;
  }
}

describe('parsePgUrl', () => {
  it('reads user, password, host, port, database and options, percent-decoded', () => {
    const cfg = parsePgUrl('postgresql://back%40up:p%3Aw%2Fd@db.example.com:6543/my%20db?sslmode=require&application_name=pgvault&connect_timeout=10');
    expect(cfg).toEqual({
      host: 'db.example.com',
      port: 6543,
      user: 'back@up',
      password: 'p:w/d',
      database: 'my db',
      options: { sslmode: 'require', application_name: 'pgvault', connect_timeout: '10' },
    });
  });

  it('follows libpq defaults and overrides: port 5432, database = user, host/password in the query, IPv6, ssl=true', () => {
    expect(parsePgUrl('postgres://alice@h')).toEqual({ host: 'h', port: 5432, user: 'alice', database: 'alice' });
    expect(parsePgUrl('postgresql://alice@/app?host=/var/run/postgresql&password=s3cret-pw')).toMatchObject({ host: '/var/run/postgresql', database: 'app', password: 's3cret-pw' });
    expect(parsePgUrl('postgresql://u@[::1]:5433/d')).toMatchObject({ host: '::1', port: 5433 });
    expect(parsePgUrl('postgresql://u@h/d?ssl=true').options).toEqual({ sslmode: 'require' });
  });

  it.each([
    ['mysql://u@h/d', /not a postgresql:\/\/ URL/],
    ['postgresql://u@h1,h2/d', /several hosts/],
    ['postgresql://u@h:99999/d', /port/],
    ['postgresql://u@h/d?sslmode=sometimes', /sslmode "sometimes"/],
    ['postgresql://u@h/d?bogus=1', /"bogus" is not a libpq connection option/],
    ['postgresql://u@h/d?sslpassword=x', /"sslpassword" is not supported/],
    ['postgresql://u@h/d?service=prod', /"service" is not supported/],
    ['postgresql://h/d', /names no user/],
    ['postgresql://u@/d', /names no host/],
    ['postgresql://u:%ZZ@h/d', /percent-encoding/],
  ])('refuses %s with a coded error and a hint', (url, message) => {
    const err = (() => {
      try {
        parsePgUrl(url);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(UserErrorInvalidInput);
    expect((err as Error).message).toMatch(message);
    expect((err as UserErrorInvalidInput).hint).toBeTruthy();
  });

  it('never echoes the password of a URL it refuses', () => {
    try {
      parsePgUrl('postgresql://u:TopSecret-991@h1,h2/d');
    } catch (e) {
      expect(JSON.stringify((e as UserErrorInvalidInput).toJSON())).not.toContain('TopSecret-991');
    }
  });
});

describe('toConninfo', () => {
  it('quotes every value so that a database name cannot add or change a keyword', () => {
    const names = ['host=127.0.0.2 dbname=x', "it's", 'back\\slash', "a' host='evil", 'postgresql://evil/x', ' spaced ', ''];
    for (const database of names) {
      const s = toConninfo({ host: '127.0.0.1', port: 5432, user: 'u', password: 'never-here', database, options: { sslmode: 'prefer' } });
      expect(parseConninfo(s)).toEqual({ host: '127.0.0.1', port: '5432', user: 'u', dbname: database, sslmode: 'prefer' });
      expect(s).not.toContain('never-here');
    }
  });

  it('can leave the database out (pg_dumpall) and escapes quotes and backslashes', () => {
    expect(toConninfo({ host: 'h', port: 1, user: 'u', database: 'd' }, { database: false })).toBe("host='h' port='1' user='u'");
    expect(quoteConninfoValue("a'b\\c")).toBe("'a\\'b\\\\c'");
  });
});
