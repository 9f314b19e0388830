/** The load workers open envelopes completely: authenticate, decrypt, decompress, and check the chunk's keyed id
 *  (every load asks for that check: a chunk whose bytes are not the ones saved under its id is refused even when
 *  its envelope is authentic). */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { CompressionId } from '../compression/codec.ts';
import { IntegrityErrorAuthenticationFailed, IntegrityErrorChunkHashMismatch } from '../errors.ts';
import { DecryptPool } from './decrypt-pool.ts';
import { associatedData, seal } from './envelope.ts';
import { blobIdOf } from './master-key.ts';

const dataKey = randomBytes(32);
const idKey = randomBytes(32);
const pool = new DecryptPool(dataKey, idKey, 2);
afterAll(() => pool.close());

describe('DecryptPool', () => {
  it('returns a chunk whose keyed id matches, and refuses an authentic envelope holding other bytes', async () => {
    const chunk = randomBytes(100_000);
    const other = randomBytes(100_000);
    const id = blobIdOf(idKey, chunk);
    const good = seal(dataKey, associatedData.blob(id), [Buffer.of(CompressionId.none), chunk]);
    // Sealed under the right id and key (a pgvault bug could write it; no one without the key can).
    const wrong = seal(dataKey, associatedData.blob(id), [Buffer.of(CompressionId.none), other]);
    expect((await pool.openChunk(id, associatedData.blob(id), Buffer.from(good), chunk.length)).equals(chunk)).toBe(true);
    await expect(pool.openChunk(id, associatedData.blob(id), Buffer.from(wrong), other.length)).rejects.toThrow(IntegrityErrorChunkHashMismatch);
    const flipped = Buffer.from(good);
    flipped[50]! ^= 1;
    await expect(pool.openChunk(id, associatedData.blob(id), flipped, chunk.length)).rejects.toThrow(IntegrityErrorAuthenticationFailed);
  });
});
