/** Bounded memory for the streaming paths. Chunk buffers live outside V8's heap; V8 frees a dead one only when
 *  its small JavaScript wrapper is collected, and it lets each isolate accumulate ~64 MiB of such dead external
 *  memory before it collects on its own, on the main thread and on every worker. A save or load touches
 *  hundreds of MiB per second, so that slack, times the isolates, times glibc's arenas, was most of their
 *  resident memory. A young-generation collection (a scavenge: about a millisecond, the wrappers are young)
 *  after every few MiB of chunks frees them promptly. The same code runs inside the eval workers. The load
 *  path's main thread does without (vault.ts says why): there, extra scavenges promoted chunks that wait in
 *  line, and the buffers of promoted ones are what builds up. */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (opts?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

/** Source for the eval workers: defines `youngGc(bytes)` with the same policy as {@link YoungGc}. */
export const youngGcWorkerSource = `
require('node:v8').setFlagsFromString('--expose-gc');
const __gc = require('node:vm').runInNewContext('gc');
let __sinceGc = 0;
function youngGc(bytes) {
  __sinceGc += bytes;
  if (__sinceGc >= ${16 * 1024 * 1024}) { __sinceGc = 0; __gc({ type: 'minor' }); }
}
`;

let gc: Gc | undefined;

/** Counts chunk bytes that became garbage and scavenges after every 16 MiB of them. */
export class YoungGc {
  #since = 0;

  constructor(readonly everyBytes = 16 * 1024 * 1024) {
    if (!gc) {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as Gc;
    }
  }

  note(bytes: number): void {
    this.#since += bytes;
    if (this.#since >= this.everyBytes) {
      this.#since = 0;
      gc!({ type: 'minor' });
    }
  }
}
