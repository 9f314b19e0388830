import { describe, expect, it } from 'vitest';
import { appConfigFrom, parseListen } from './app-config.ts';

describe('serve configuration', () => {
  it('listens on loopback port 8432 unless told otherwise', () => {
    expect(parseListen(undefined)).toEqual({ host: '127.0.0.1', port: 8432 });
    expect(parseListen('0.0.0.0:9000')).toEqual({ host: '0.0.0.0', port: 9000 });
    expect(parseListen('[::1]:9000')).toEqual({ host: '::1', port: 9000 });
    expect(parseListen('localhost')).toEqual({ host: 'localhost', port: 8432 });
    for (const bad of ['a b:1', '1.2.3.4:99999', 'host:port']) expect(() => parseListen(bad), bad).toThrowError(expect.objectContaining({ code: 'UserErrorInvalidInput' }));
  });
  it('takes the data dir from the option, then PGVAULT_DATA_DIR, then ~/.local/share/pgvault', () => {
    expect(appConfigFrom({ dataDir: '/d' }, {}).dataDir).toBe('/d');
    expect(appConfigFrom({}, { PGVAULT_DATA_DIR: '/e' }).dataDir).toBe('/e');
    expect(appConfigFrom({}, { HOME: '/home/x' }).dataDir).toMatch(/\/\.local\/share\/pgvault$/);
    expect(appConfigFrom({}, { PGVAULT_LISTEN: '127.0.0.1:1' }).port).toBe(1);
  });
  it('refuses bad worker counts and log levels with coded errors', () => {
    expect(() => appConfigFrom({ dataDir: '/d', workers: '-1' }, {})).toThrowError(expect.objectContaining({ code: 'UserErrorInvalidInput' }));
    expect(() => appConfigFrom({ dataDir: '/d', logLevel: 'loud' }, {})).toThrowError(expect.objectContaining({ code: 'UserErrorInvalidInput' }));
  });
});
