/** The chunker's gear table: 256 32-bit values derived from a 32-byte seed (vault-format.md §5).
 *  Pure: bytes in, table out. Never change the derivation: chunk boundaries of stored data depend on it. */
import { createHmac } from 'node:crypto';

const label = Buffer.from('pgvault-gear-v1', 'ascii');

export function gearTable(seed: Uint8Array): Uint32Array {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    const mac = createHmac('sha256', seed).update(label).update(Buffer.of(i)).digest();
    table[i] = mac.readUInt32LE(0);
  }
  return table;
}

/** The seed of a vault's table: HMAC-SHA-256(idKey, "pgvault/v1/gear-seed"), so boundaries are keyed per vault. */
export function vaultGearSeed(idKey: Uint8Array): Buffer {
  return createHmac('sha256', idKey).update('pgvault/v1/gear-seed').digest();
}
