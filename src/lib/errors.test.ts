import { describe, expect, it } from 'vitest';
import { asPgvaultError, exitCodeByCategory, InternalErrorUnexpected, UserErrorInvalidInput } from './errors.ts';

describe('PgvaultError', () => {
  it('uses the class name as its stable code and keeps category, hint and details', () => {
    const e = new UserErrorInvalidInput('name "a/../b" is not allowed', { hint: 'use letters, digits, - and _', details: { field: 'name' } });
    expect(e.code).toBe('UserErrorInvalidInput');
    expect(e.category).toBe('user');
    expect(e.httpStatus).toBe(400);
    expect(e.toJSON()).toEqual({ code: 'UserErrorInvalidInput', category: 'user', message: 'name "a/../b" is not allowed', hint: 'use letters, digits, - and _', details: { field: 'name' } });
    expect(exitCodeByCategory[e.category]).toBe(2);
  });
  it('redacts secrets in message and details', () => {
    const e = new UserErrorInvalidInput('cannot connect to postgresql://u:hunter22@h/db', { details: { password: 'hunter22', url: 'postgresql://u:hunter22@h/db' } });
    expect(JSON.stringify(e.toJSON())).not.toContain('hunter22');
  });
  it('wraps foreign errors as internal ones, keeping the cause', () => {
    const orig = new TypeError('boom');
    const e = asPgvaultError(orig);
    expect(e).toBeInstanceOf(InternalErrorUnexpected);
    expect(e.cause).toBe(orig);
  });
});
