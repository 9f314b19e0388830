import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../memory/memory-backend.ts';
import type { StorageKey } from '../storage-backend.ts';
import { describeStorageConformance, listAll, readAll } from '../testing/conformance.ts';
import { FaultyBackend } from './faulty-backend.ts';
import { LoggingBackend, type StorageLogger } from './logging-backend.ts';

const k = (s: string): StorageKey => s as StorageKey;

function recorder(): StorageLogger & { lines: Array<{ level: string; msg: string } & Record<string, unknown>> } {
  const lines: Array<{ level: string; msg: string } & Record<string, unknown>> = [];
  return {
    lines,
    debug: (obj, msg) => void lines.push({ level: 'debug', msg, ...obj }),
    warn: (obj, msg) => void lines.push({ level: 'warn', msg, ...obj }),
  };
}

describeStorageConformance('LoggingBackend over memory', () => new LoggingBackend(new MemoryBackend(), { debug: () => undefined, warn: () => undefined }));

describe('LoggingBackend', () => {
  it('reports each verb with key, size, bytes read and duration; never the body', async () => {
    const log = recorder();
    let t = 0;
    const b = new LoggingBackend(new MemoryBackend(), log, { now: () => (t += 5) });
    await b.put(k('a/1'), Buffer.from('secret-looking body'), { ifAbsent: true });
    expect((await readAll(await b.get(k('a/1'), { offset: 0, length: 6 }))).toString()).toBe('secret');
    await b.stat(k('a/1'));
    await listAll(b, 'a/');
    await b.delete(k('a/1'));
    expect(log.lines.map((l) => [l.level, l.verb, l.key])).toEqual([
      ['debug', 'put', 'a/1'],
      ['debug', 'get', 'a/1'],
      ['debug', 'stat', 'a/1'],
      ['debug', 'list', 'a/'],
      ['debug', 'delete', 'a/1'],
    ]);
    expect(log.lines[0]).toMatchObject({ sizeBytes: 19, ifAbsent: true, durationMs: 5, storage: 'memory://' });
    expect(log.lines[1]).toMatchObject({ bytesRead: 6, offset: 0, length: 6 });
    expect(log.lines[3]).toMatchObject({ keys: 1 });
    expect(JSON.stringify(log.lines)).not.toContain('body');
  });

  it('warns with the error code on failures, and treats NotFound as an ordinary answer', async () => {
    const log = recorder();
    const faulty = new FaultyBackend(new MemoryBackend()).inject({ verb: 'put', fault: { kind: 'error' } });
    const b = new LoggingBackend(faulty, log);
    await expect(b.put(k('x'), Buffer.from('x'))).rejects.toThrow();
    await expect(b.stat(k('missing'))).rejects.toThrow();
    await b.put(k('y'), Buffer.alloc(10_000));
    faulty.inject({ verb: 'get', fault: { kind: 'break', afterBytes: 100 } });
    await expect(readAll(await b.get(k('y')))).rejects.toThrow();
    expect(log.lines.map((l) => [l.level, l.verb, l.code])).toEqual([
      ['warn', 'put', 'TransientErrorStorageUnavailable'],
      ['debug', 'stat', 'StorageErrorNotFound'],
      ['debug', 'put', undefined],
      ['warn', 'get', 'TransientErrorStorageUnavailable'],
    ]);
    expect(log.lines[3]).toMatchObject({ bytesRead: 100 });
  });
});
