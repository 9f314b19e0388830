/** Every storage driver against the shared conformance suite: the filesystem driver on a temp directory. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { FilesystemBackend } from '../../src/storage/index.ts';
import { describeStorageConformance } from '../../src/storage/testing/conformance.ts';

const fsRoot = mkdtempSync(join(tmpdir(), 'pgvault-conformance-fs-'));
afterAll(() => rmSync(fsRoot, { recursive: true, force: true }));

describeStorageConformance('filesystem', () => new FilesystemBackend(join(fsRoot, 'vault')));
