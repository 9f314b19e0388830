import { describe, expect, it } from 'vitest';
import { PackBuffers } from './pack-buffers.ts';

describe('PackBuffers', () => {
  it('makes at most `count` buffers and reuses released ones', async () => {
    const pool = new PackBuffers(64, 2);
    const a = await pool.acquire();
    const b = await pool.acquire();
    expect(a.length).toBe(64);
    expect(a).not.toBe(b);
    let third: Buffer | undefined;
    const waiting = pool.acquire().then((c) => (third = c));
    await new Promise((r) => setImmediate(r));
    expect(third).toBeUndefined(); // both are taken
    pool.release(b);
    await waiting;
    expect(third).toBe(b);
    pool.release(a);
    expect(await pool.acquire()).toBe(a);
    expect(pool.made).toBe(2);
  });

  it('fail() wakes a waiter and refuses later acquires', async () => {
    const pool = new PackBuffers(8, 1);
    await pool.acquire();
    const waiting = pool.acquire();
    const boom = new Error('upload failed');
    pool.fail(boom);
    await expect(waiting).rejects.toBe(boom);
    await expect(pool.acquire()).rejects.toBe(boom);
  });
});
