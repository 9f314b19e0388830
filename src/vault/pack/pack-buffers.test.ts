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

  it('a larger request gets a one-off buffer that takes a place while held and is dropped on release', async () => {
    const pool = new PackBuffers(64, 2);
    const a = await pool.acquire();
    const big = await pool.acquire(200);
    expect(big.length).toBe(200);
    let waiter: Buffer | undefined;
    const waiting = pool.acquire(300).then((c) => (waiter = c));
    await new Promise((r) => setImmediate(r));
    expect(waiter).toBeUndefined(); // the one-off holds the second place
    pool.release(big);
    await waiting;
    expect(waiter!.length).toBe(300);
    expect(waiter).not.toBe(big); // one-offs are never reused
    pool.release(waiter!);
    pool.release(a);
    // Only the kept buffer of 64 bytes is reused; both places are free again.
    const [x, y] = await Promise.all([pool.acquire(), pool.acquire()]);
    expect([x, y]).toContain(a);
    expect(x!.length).toBe(64);
    expect(y!.length).toBe(64);
    expect(pool.made).toBe(2);
  });
});
