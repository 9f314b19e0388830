/** Turns a put() body (a Buffer or a Readable) into Buffer chunks, pulled one at a time so that the producer
 *  feels backpressure, and ends early when the put's signal aborts. Never buffers the whole body. */
import { getMaxListeners, setMaxListeners } from 'node:events';
import { Readable, addAbortSignal } from 'node:stream';

/** The reason an aborted operation throws: the signal's reason when it is an Error, else an AbortError. */
export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r;
  const e = new Error('the operation was aborted');
  e.name = 'AbortError';
  return e;
}

/** One job-wide signal is commonly shared by many concurrent puts and gets (and their SDK requests); each
 *  adds a listener that is removed when its request or stream ends, so many at once is no leak: this lifts
 *  Node's MaxListeners warning limit for that signal. */
export function allowSharedSignal(signal: AbortSignal | undefined): void {
  if (!signal) return;
  const max = getMaxListeners(signal);
  if (max !== 0 && max < 256) setMaxListeners(256, signal);
}

const bodyErrors = new WeakSet<object>();

/** True for an error thrown by a put() body itself (its producer failed): drivers pass it through
 *  untranslated, since it says nothing about the store. */
export function isBodyError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && bodyErrors.has(err);
}

/** Yields the body's bytes as Buffers. On abort the Readable is destroyed and the iteration throws
 *  abortReason(signal). Strings pushed by a Readable in string mode are encoded as UTF-8. */
export async function* bodyChunks(body: Readable | Buffer, signal?: AbortSignal): AsyncGenerator<Buffer> {
  if (signal?.aborted) throw abortReason(signal);
  if (signal) allowSharedSignal(signal);
  if (Buffer.isBuffer(body)) {
    if (body.length > 0) yield body;
    return;
  }
  if (!(body instanceof Readable)) throw new TypeError('put() body must be a Buffer or a Readable');
  if (signal) addAbortSignal(signal, body);
  try {
    for await (const chunk of body as AsyncIterable<unknown>) {
      if (signal?.aborted) throw abortReason(signal);
      if (Buffer.isBuffer(chunk)) yield chunk;
      else if (chunk instanceof Uint8Array) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      else if (typeof chunk === 'string') yield Buffer.from(chunk, 'utf8');
      else throw new TypeError(`put() body yielded a ${typeof chunk}, not bytes`);
    }
  } catch (err) {
    if (signal?.aborted) throw abortReason(signal);
    if (typeof err === 'object' && err !== null) bodyErrors.add(err);
    throw err;
  }
  if (signal?.aborted) throw abortReason(signal);
}

/** Reads a whole body into one Buffer (for small bodies and backends that must hold the bytes anyway). */
export async function bodyToBuffer(body: Readable | Buffer, signal?: AbortSignal): Promise<Buffer> {
  if (Buffer.isBuffer(body) && !signal?.aborted) return body;
  const parts: Buffer[] = [];
  for await (const c of bodyChunks(body, signal)) parts.push(c);
  return Buffer.concat(parts);
}
