/** Runs one PostgreSQL client tool (pg_dump, pg_dumpall, pg_restore) as a child process: clean environment,
 *  password in a private 0600 password file (never argv, never the environment), stderr captured as redacted log
 *  lines, progress, cancellation that kills the whole process group, and exit status mapped to coded errors.
 *  It must never pass a secret on the command line, and never leave a child or a password file behind. */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { PassThrough, Transform, Writable, type Readable, type TransformCallback } from 'node:stream';
import { InternalErrorUnexpected, PgvaultError, redact, registerSecret, UserErrorInvalidInput } from '../lib/index.ts';
import { connect } from './connect.ts';
import type { PgClient, PgToolName } from './discover-clients.ts';
import { errorLines, mapPgToolExit } from './map-pg-failure.ts';
import type { PgConnectionConfig } from './pg-connection-config.ts';
import { createPgpassFile } from './pgpass-file.ts';
import { installHint, UserErrorPgClientNotFound, UserErrorPgToolCancelled, UserErrorPgToolFailed } from './pg-errors.ts';

/** Progress of a run: bytes through stdout (dump) or stdin (restore) so far, and the table being worked on. */
export interface PgToolProgress {
  bytes: number;
  /** "schema.table" as the tool prints it, e.g. public.orders. */
  currentTable?: string;
}

export interface PgToolResult {
  tool: PgToolName;
  exitCode: number;
  durationMs: number;
  /** Bytes written to stdout (pg_dump, pg_dumpall) or read from stdin (pg_restore). */
  bytes: number;
  /** Redacted stderr lines. */
  log: string[];
  /** The error lines among them (non-empty only for a pg_restore whose errors were accepted). */
  errors: string[];
}

/** A running tool. Read `stdout` (the dump) or write `stdin` (the archive to restore); backpressure reaches the
 *  child. `done` resolves when the tool exited 0 and its output was read; it rejects with a coded error mapped
 *  from stderr otherwise, with UserErrorPgToolCancelled after the signal aborted or kill() was called.
 *  Abandoning `stdout` or destroying `stdin` before the end kills the tool. A write's callback on `stdin` comes once
 *  the pipe to the tool has taken those bytes: the writer may then reuse the buffer. `log` fills while it runs.
 *  The spawn functions throw (coded, synchronously) when the tool cannot start: signal already aborted, client
 *  not executable, options refused. */
export interface PgToolProcess {
  tool: PgToolName;
  client: PgClient;
  pid: number;
  stdout: Readable;
  stdin: Writable;
  done: Promise<PgToolResult>;
  log: string[];
  kill(): void;
  /** The PostgreSQL encoding of the stderr lines (pg_dump learns its client_encoding on connecting: the ENCODING
   *  entry of its TOC says which). Lines held back (holdStderrUntilEncoding) are decoded with it; undefined keeps the
   *  encoding and only releases them. */
  setStderrEncoding(pgEncoding: string | undefined): void;
}

export interface SpawnPgToolArgs {
  tool: PgToolName;
  client: PgClient;
  cfg: PgConnectionConfig;
  /** Arguments after the executable; must not hold a secret (the password never belongs here). */
  args: string[];
  signal?: AbortSignal;
  /** Feed the tool through `stdin` (pg_restore from a stream); otherwise its stdin is closed at once. */
  useStdin?: boolean;
  onProgress?: (p: PgToolProgress) => void;
  /** pg_restore exits 1 when it met errors and went on; return true to accept them (done resolves, with `errors`). */
  acceptErrors?: (errors: string[]) => boolean;
  /** Grace before SIGKILL after SIGTERM on cancellation. */
  killGraceMs?: number;
  /** The PostgreSQL encoding of what the tool writes to stderr beyond English text (names from an archive's TOC,
   *  the server's messages in its client_encoding): its log lines are decoded from it. UTF-8 when unset or unknown. */
  stderrEncoding?: string;
  /** `stderrEncoding` is a guess: complete lines are held back (up to maxHeldLines, then decoded with the guess)
   *  until setStderrEncoding says what the tool really writes in, or the tool exits. pg_dump's stdout holds its TOC
   *  (the ENCODING entry) in a stdio buffer while its stderr lines come at once, so a line may arrive before the
   *  TOC that tells its encoding. */
  holdStderrUntilEncoding?: boolean;
}

/** Lines held back at most before they are decoded with the encoding guessed (pg_dump prints a few per table before
 *  its TOC: a bound on the memory, not a limit on the log). */
const maxHeldLines = 2000;

/** The WHATWG label (TextDecoder) of a PostgreSQL encoding name, or undefined when Node cannot decode it (then the
 *  lines are read as UTF-8, as before). */
export function textDecoderLabel(pgEncoding: string): string | undefined {
  const e = pgEncoding.toUpperCase().replace(/[-\s]/g, '_');
  const latin: Record<string, string> = { '1': '1', '2': '2', '3': '3', '4': '4', '5': '9', '6': '10', '7': '13', '8': '14', '9': '15', '10': '16' };
  let label: string | undefined;
  let m: RegExpExecArray | null;
  if (e === 'UTF8' || e === 'UNICODE') label = 'utf-8';
  else if ((m = /^LATIN(\d+)$/.exec(e))) label = latin[m[1]!] ? `iso-8859-${latin[m[1]!]}` : undefined;
  else if ((m = /^ISO_8859_(\d+)$/.exec(e))) label = `iso-8859-${m[1]}`;
  else if ((m = /^WIN(125\d)$/.exec(e))) label = `windows-${m[1]}`;
  else {
    const named: Record<string, string> = {
      WIN866: 'ibm866', WIN874: 'windows-874', KOI8R: 'koi8-r', KOI8U: 'koi8-u', EUC_JP: 'euc-jp', SJIS: 'shift_jis',
      EUC_KR: 'euc-kr', BIG5: 'big5', GBK: 'gbk', GB18030: 'gb18030', EUC_CN: 'gbk',
    };
    label = named[e];
  }
  if (!label) return undefined;
  try {
    new TextDecoder(label);
    return label;
  } catch {
    return undefined;
  }
}

const maxLogLines = 5000;
const progressEveryBytes = 4 * 1024 * 1024;

/** The child's environment: nothing inherited that libpq would read (PGHOST, PGDATABASE, PGSERVICE, PGSSLMODE,
 *  PGOPTIONS … could redirect or change the connection), messages in English for the error mapping. */
function childEnv(passfile: string | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', LANG: 'C' };
  // HOME stays: libpq finds ~/.postgresql/root.crt and client certificates there, as the user expects.
  if (process.env.HOME) env.HOME = process.env.HOME;
  if (passfile) env.PGPASSFILE = passfile;
  return env;
}

const tableLine: Partial<Record<PgToolName, RegExp>> = {
  pg_dump: /^pg_dump: dumping contents of table "(.+)"$/,
  pg_restore: /^pg_restore: processing data for table "(.+)"$/,
};

export function spawnPgTool(a: SpawnPgToolArgs): PgToolProcess {
  const { tool, client, cfg } = a;
  registerSecret(cfg.password);
  if (a.signal?.aborted) {
    throw new UserErrorPgToolCancelled(`${tool} was cancelled before it started`, { cause: a.signal.reason });
  }
  try {
    accessSync(client.path, constants.X_OK);
  } catch {
    throw new UserErrorPgClientNotFound(`${tool} "${client.path}" is not an executable file`, {
      hint: installHint(client.major, tool),
      details: { tool, path: client.path },
    });
  }

  // The password travels in a password file that only this user can read, in a directory only this user can
  // enter, removed when the tool exits. Nothing in argv or in the child's environment reveals it.
  let pass: { path: string; remove(): void } | undefined;
  if (cfg.password !== undefined) {
    if (/[\r\n]/.test(cfg.password)) {
      throw new UserErrorInvalidInput('the password contains a line break, which libpq cannot read from a password file', {
        hint: 'Choose a password without line breaks (ALTER ROLE … PASSWORD …).',
        details: { field: 'password' },
      });
    }
    pass = createPgpassFile(cfg.password);
  }
  const passfile = pass?.path;
  const cleanup = (): void => {
    pass?.remove();
    pass = undefined;
  };

  const started = Date.now();
  const child = (() => {
    try {
      // detached: the tool gets its own process group (and no controlling terminal, so libpq can never prompt);
      // cancellation signals the whole group, parallel workers included.
      return spawn(client.path, a.args, { stdio: ['pipe', 'pipe', 'pipe'], env: childEnv(passfile), detached: true });
    } catch (err) {
      cleanup();
      throw new InternalErrorUnexpected(`${tool} could not be started`, { cause: err });
    }
  })();

  const log: string[] = [];
  const errs: string[] = [];
  let dropped = 0;
  let bytes = 0;
  let reported = 0;
  let currentTable: string | undefined;
  const progress = (): void => {
    reported = bytes;
    a.onProgress?.({ bytes, ...(currentTable === undefined ? {} : { currentTable }) });
  };
  const addLine = (raw: string): void => {
    const line = redact(raw);
    const isError = errorLines([line]).length > 0;
    if (isError) errs.push(line);
    if (log.length < maxLogLines || (isError && log.length < 2 * maxLogLines)) log.push(line);
    else dropped++;
    const m = tableLine[tool]?.exec(line);
    if (m) {
      currentTable = m[1];
      progress();
    }
  };
  // Lines are cut at the byte level (no encoding PostgreSQL serves has a 0x0A inside a character) and each is decoded
  // whole once complete, in the encoding known then.
  let decoder = new TextDecoder((a.stderrEncoding && textDecoderLabel(a.stderrEncoding)) ?? 'utf-8');
  let partial: Buffer[] = [];
  let holding = a.holdStderrUntilEncoding === true;
  let held: Buffer[] = [];
  const release = (): void => {
    holding = false;
    for (const b of held) addLine(decoder.decode(b));
    held = [];
  };
  const flushLine = (): void => {
    const line = partial.length === 1 ? Buffer.from(partial[0]!) : Buffer.concat(partial);
    partial = [];
    if (holding && held.length >= maxHeldLines) release();
    if (holding) held.push(line);
    else addLine(decoder.decode(line));
  };
  child.stderr.on('data', (b: Buffer) => {
    let start = 0;
    for (let nl = b.indexOf(10); nl !== -1; nl = b.indexOf(10, start)) {
      partial.push(b.subarray(start, nl));
      flushLine();
      start = nl + 1;
    }
    if (start < b.length) partial.push(b.subarray(start));
  });

  let cancelled: PgvaultError | undefined;
  let abandoned = false;
  let graceTimer: NodeJS.Timeout | undefined;
  let exited = false;
  const signalGroup = (sig: NodeJS.Signals): void => {
    if (exited || child.pid === undefined) return;
    try {
      process.kill(-child.pid, sig);
    } catch {
      // the group is already gone
    }
  };
  const terminate = (): void => {
    signalGroup('SIGTERM');
    graceTimer ??= setTimeout(() => signalGroup('SIGKILL'), a.killGraceMs ?? 5000);
    graceTimer.unref();
  };

  // stdout: counted on its way to the reader; a reader that goes away early stops the tool instead of leaving it
  // blocked on a full pipe.
  const stdout = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      bytes += chunk.length;
      if (a.onProgress && bytes - reported >= progressEveryBytes) progress();
      cb(null, chunk);
    },
  });
  // The same failure also rejects `done`: a reader that only awaits `done` must not crash on the stream's error.
  stdout.on('error', () => undefined);
  child.stdout.pipe(stdout);
  let stdoutEnded = false;
  stdout.on('end', () => (stdoutEnded = true));
  stdout.on('close', () => {
    if (!stdoutEnded && !exited) {
      abandoned = true;
      child.stdout.destroy();
      terminate();
    }
  });

  // stdin: counted on its way to the tool; destroyed before its end → the tool is stopped (it would wait forever).
  let stdin: Writable;
  let settleInput: (err?: Error) => void = () => undefined;
  child.stdin.on('error', () => undefined); // EPIPE when the tool exits first: its exit status tells why
  if (a.useStdin) {
    let inputEnded = false;
    let discard = false;
    /** A write the pipe refused (EPIPE: the tool exited first) waits for the tool's exit status (settleInput). */
    let refused: (() => void) | undefined;
    /** Writes the chunks to the pipe back to back (libuv queues them; no JavaScript runs between them) and calls
     *  back once the pipe has taken the last one. */
    const toPipe = (chunks: Buffer[], cb: (err?: Error | null) => void): void => {
      for (const c of chunks) bytes += c.length;
      if (a.onProgress && bytes - reported >= progressEveryBytes) progress();
      if (discard) return cb();
      let left = chunks.length;
      let failed = false;
      for (const c of chunks) {
        // Called back once the pipe has the bytes (not when they are queued): the writer's buffer is free then.
        child.stdin.write(c, (err) => {
          failed ||= !!err;
          if (--left > 0) return;
          if (!failed || discard) cb();
          else refused = () => cb();
        });
      }
    };
    const input = new Writable({
      // Several of the restore feed's 256 KiB blocks wait here while one batch is on its way.
      highWaterMark: 1024 * 1024,
      write(chunk: Buffer, _enc, cb) {
        toPipe([chunk], cb);
      },
      writev(chunks, cb) {
        toPipe(
          chunks.map((c) => c.chunk as Buffer),
          cb,
        );
      },
      final(cb) {
        inputEnded = true;
        child.stdin.end();
        cb();
      },
    });
    input.on('close', () => {
      if (!inputEnded && !exited) {
        abandoned = true;
        terminate();
      }
    });
    input.on('error', () => undefined); // the failure also rejects `done`
    stdin = input;
    // Once the tool has exited, a writer still writing must not wait forever on backpressure: after success
    // (pg_restore --list reads only the header and TOC) the rest is discarded; after a failure the stream fails.
    settleInput = (err) => {
      if (inputEnded || input.destroyed) return;
      if (err) return void input.destroy(err);
      discard = true;
      refused?.();
      refused = undefined;
    };
  } else {
    child.stdin.end();
    const closed = new PassThrough();
    closed.end();
    stdin = closed;
  }

  const onAbort = (): void => {
    cancelled ??= new UserErrorPgToolCancelled(`${tool} was cancelled; the process was stopped`, {
      hint: 'Nothing was kept from the cancelled run.',
      cause: a.signal?.reason,
      details: { tool, pid: child.pid },
    });
    // Unread output would keep the pipes open: discard it so that the exit is observed.
    child.stdout.unpipe(stdout);
    child.stdout.resume();
    terminate();
  };
  a.signal?.addEventListener('abort', onAbort, { once: true });

  const done = new Promise<PgToolResult>((resolve, reject) => {
    child.on('error', (err) => {
      exited = true;
      cleanup();
      a.signal?.removeEventListener('abort', onAbort);
      reject(new InternalErrorUnexpected(`${tool} failed to run`, { cause: err }));
    });
    child.on('close', (code, sig) => {
      exited = true;
      if (graceTimer) clearTimeout(graceTimer);
      cleanup();
      a.signal?.removeEventListener('abort', onAbort);
      if (partial.length > 0) flushLine();
      release();
      if (dropped > 0) log.push(`[pgvault: ${dropped} further stderr lines were not kept]`);
      const result: PgToolResult = { tool, exitCode: code ?? -1, durationMs: Date.now() - started, bytes, log, errors: [] };
      if (cancelled) {
        stdout.destroy(cancelled);
        settleInput(cancelled);
        return reject(cancelled);
      }
      if (code === 0) {
        settleInput();
        progress();
        return resolve(result);
      }
      if (code === 1 && tool === 'pg_restore' && !abandoned && a.acceptErrors?.(errs.slice())) {
        settleInput();
        return resolve({ ...result, errors: errs.slice() });
      }
      const err = abandoned
        ? new UserErrorPgToolFailed(`${tool} was stopped: ${a.useStdin ? 'its input stream was destroyed before its end' : 'the reader of its output went away before the end'}`, {
            hint: 'The stream was abandoned (a failed upload or download, or a cancelled job); see the job log for the first error.',
            details: { tool, exitCode: code, signal: sig },
          })
        : mapPgToolExit({ ctx: { actor: tool, cfg, clientVersion: client.version }, exitCode: code, signal: sig, lines: log });
      void probeFailedConnection(err, log, cfg).then((e) => {
        stdout.destroy(e);
        settleInput(e);
        reject(e);
      });
    });
  });
  // Marked as handled here: a caller that awaits the stream first must not crash the process on an early rejection.
  done.catch(() => undefined);

  return {
    tool,
    client,
    pid: child.pid ?? -1,
    stdout,
    stdin,
    done,
    log,
    kill: () => {
      if (!exited) onAbort();
    },
    setStderrEncoding: (pgEncoding: string | undefined) => {
      if (pgEncoding !== undefined) decoder = new TextDecoder(textDecoderLabel(pgEncoding) ?? 'utf-8');
      release();
    },
  };
}

/** A tool that could not connect prints the server's FATAL in the server's lc_messages language (Passwort-
 *  Authentifizierung … fehlgeschlagen) and no SQLSTATE, so the text maps to nothing better than
 *  UserErrorPgToolFailed. One connection of pgvault's own, which gets the SQLSTATE, then tells what it was
 *  (28P01 authentication, 3D000 no such database …); a connection that now works keeps the tool's error. */
async function probeFailedConnection(err: PgvaultError, lines: readonly string[], cfg: PgConnectionConfig): Promise<PgvaultError> {
  if (!(err instanceof UserErrorPgToolFailed) || !lines.some((l) => /connection to server (at|on socket) .* failed: /.test(l))) return err;
  try {
    const c = await connect(cfg);
    await c.end().catch(() => undefined);
    return err;
  } catch (probe) {
    return probe instanceof PgvaultError && !(probe instanceof UserErrorPgToolFailed) && probe.code !== 'InternalErrorUnexpected' ? probe : err;
  }
}
