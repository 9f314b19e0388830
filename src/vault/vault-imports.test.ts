/** The vault enters storage through its contract only: loading the vault (as a short-lived process that saves or
 *  loads one stream does) must not load the cloud SDKs of the storage drivers. Checked on what esbuild bundles
 *  from the vault's entry point, as the benchmark and crash-test children are bundled. */
import { createRequire } from 'node:module';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

describe('the vault module', () => {
  it('pulls in no storage driver and no cloud SDK', async () => {
    const req = createRequire(import.meta.url);
    const result = await build({
      entryPoints: [new URL('./index.ts', import.meta.url).pathname],
      bundle: true,
      platform: 'node',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
      plugins: [
        {
          name: 'native-external',
          setup(b) {
            b.onResolve({ filter: /^(@mongodb-js\/zstd|zstd-napi)$/ }, (a) => ({ path: req.resolve(a.path), external: true }));
          },
        },
      ],
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((p) => p.includes('src/vault/vault.ts'))).toBe(true);
    expect(inputs.filter((p) => /node_modules\/@(aws-sdk|azure|smithy)\//.test(p))).toEqual([]);
    expect(inputs.filter((p) => /src\/storage\/(s3|azure-blob|filesystem|memory|decorators)\//.test(p))).toEqual([]);
  });
});
