import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { Stop, stopped } from './stop.ts';

describe('Stop', () => {
  it('settles a race as its promise does, or with `stopped` once stopped, and every later race at once', async () => {
    const s = new Stop();
    expect(await s.race(Promise.resolve(7))).toBe(7);
    await expect(s.race(Promise.reject(new Error('read failed')))).rejects.toThrow('read failed');
    const never = new Promise<number>(() => undefined);
    const pending = s.race(never);
    s.stop();
    expect(await pending).toBe(stopped);
    expect(s.stopped).toBe(true);
    // A promise that fails after the stop raises no unhandled rejection.
    expect(await s.race(Promise.reject(new Error('too late')))).toBe(stopped);
  });

  it('keeps nothing of a settled race (a long load races every chunk against one stop), unlike Promise.race', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const retained = async (race: (p: Promise<number>) => Promise<unknown>): Promise<number> => {
      gc();
      const base = process.memoryUsage().heapUsed;
      for (let i = 0; i < 50_000; i++) await race(Promise.resolve(i));
      gc();
      return process.memoryUsage().heapUsed - base;
    };
    const s = new Stop();
    const never = new Promise<number>(() => undefined);
    const withRace = await retained((p) => Promise.race([p, never]));
    const withStop = await retained((p) => s.race(p));
    expect(withRace).toBeGreaterThan(10_000_000);
    expect(withStop).toBeLessThan(2_000_000);
  });
});
