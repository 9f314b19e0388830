/** The format document is enough to recover data without pgvault: a small reader written from
 *  docs/design/vault-format.md alone, in Python with `cryptography` (AES-GCM, scrypt via hashlib) and the
 *  zstd command-line tool, opens a vault written by pgvault and reproduces every entry byte for byte. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FilesystemBackend } from '../../src/storage/index.ts';
import { Vault } from '../../src/vault/index.ts';
import { seededBytes, streamOf } from '../../src/vault/testing/test-data.ts';

const dir = mkdtempSync(join(tmpdir(), 'pgvault-reader-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const reader = String.raw`
import base64, glob, hashlib, json, os, struct, subprocess, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

root, out = sys.argv[1], sys.argv[2]
passphrase = os.environ['VAULT_PASSPHRASE'].encode()

def open_envelope(key, aad, env):                       # section 6: nonce(12) || ciphertext || tag(16)
    plain = AESGCM(key).decrypt(env[:12], env[12:], aad.encode())
    codec, payload = plain[0], plain[1:]                # section 10: 0 none, 1 zstd
    if codec == 0: return payload
    if codec == 1: return subprocess.run(['zstd', '-d', '-c', '-q'], input=payload, capture_output=True, check=True).stdout
    raise SystemExit('unknown codec %d' % codec)

config = json.load(open(os.path.join(root, 'config')))  # section 3
master = None
for path in glob.glob(os.path.join(root, 'keys', '*')):  # section 4
    kf, key_id = json.load(open(path)), os.path.basename(path)
    k = kf['kdf']
    kek = hashlib.scrypt(passphrase, salt=base64.b64decode(k['salt']), n=k['N'], r=k['r'], p=k['p'], dklen=32, maxmem=2**31 - 1)
    try:
        master = open_envelope(kek, 'pgvault/v1/key/%s/%s' % (key_id, config['id']), base64.b64decode(kf['wrapped']))
        break
    except Exception:
        pass
data_key, id_key = master[:32], master[32:]

where = {}                                               # section 8
for path in glob.glob(os.path.join(root, 'index', '*')):
    idx = json.loads(open_envelope(data_key, 'pgvault/v1/index/' + os.path.basename(path), open(path, 'rb').read()))
    for p in idx['packs']:
        for b in p['blobs']: where[b['id']] = (p['id'], b['offset'], b['length'])

import hmac
result = {}
for path in glob.glob(os.path.join(root, 'manifests', '*')):  # section 9
    m = json.loads(open_envelope(data_key, 'pgvault/v1/manifest/' + os.path.basename(path), open(path, 'rb').read()))
    for e in m['entries']:
        data = bytearray()
        for c in e['chunks']:
            pack_id, off, length = where[c['id']]
            with open(os.path.join(root, 'data', pack_id[:2], pack_id), 'rb') as f:  # section 7
                f.seek(off); env = f.read(length)
            chunk = open_envelope(data_key, 'pgvault/v1/blob/' + c['id'], env)
            assert hmac.new(id_key, chunk, hashlib.sha256).hexdigest() == c['id']
            data += chunk
        assert hashlib.sha256(data).hexdigest() == e['sha256']
        name = m['meta']['label'] + '--' + e['name'].replace('/', '_')
        open(os.path.join(out, name), 'wb').write(data)
        result[name] = len(data)
print(json.dumps(result, sort_keys=True))
`;

describe('an independent reader written from the format document', () => {
  it('recovers every entry of a pgvault vault byte for byte', async () => {
    const python = spawnSync('python3', ['-c', 'import cryptography'], { encoding: 'utf8' });
    expect(python.status, 'python3 with the cryptography package is needed for this test').toBe(0);
    const root = join(dir, 'vault');
    const out = join(dir, 'out');
    mkdirSync(out, { recursive: true });
    const vault = await Vault.create(new FilesystemBackend(root), {
      passphrase: 'recover me',
      kdf: { N: 1024, r: 8, p: 1 },
      chunker: { minBytes: 4096, avgBytes: 16384, maxBytes: 65536 },
      tuning: { packTargetBytes: 100_000 },
    });
    await vault.addKey('second key', { N: 1024, r: 8, p: 1 });
    const text = Buffer.from('INSERT INTO accounts VALUES (42, \'Zürich\', 1.5);\n'.repeat(8000));
    const random = seededBytes(300_000, 'reader');
    const w = vault.beginManifest({ label: 'a' });
    await Promise.all([w.addEntry('db/text.sql', streamOf(text)), w.addEntry('blob.bin', streamOf(random))]);
    await w.commit();
    await vault.save(streamOf(Buffer.concat([random, text])), { label: 'b' }, 'mixed');
    await vault.save(streamOf(Buffer.alloc(0)), { label: 'c' }, 'empty');

    const script = join(dir, 'reader.py');
    writeFileSync(script, reader);
    const run = spawnSync('python3', [script, root, out], { encoding: 'utf8', env: { ...process.env, VAULT_PASSPHRASE: 'second key' } });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({
      'a--blob.bin': random.length,
      'a--db_text.sql': text.length,
      'b--mixed': random.length + text.length,
      'c--empty': 0,
    });
    expect(readFileSync(join(out, 'a--db_text.sql')).equals(text)).toBe(true);
    expect(readFileSync(join(out, 'a--blob.bin')).equals(random)).toBe(true);
    expect(readFileSync(join(out, 'b--mixed')).equals(Buffer.concat([random, text]))).toBe(true);
  });
});
