/**
 * Change capture for a files member: a file-system watcher (@parcel/watcher: inotify here, no events lost
 * in bursts where fs.watch lost a fifth) marks the folders where something happened, so a checkpoint lists
 * only those and takes the rest from the last checkpoint. A full scan runs first, after a watcher error, and
 * every `rescanEveryMs` as the safety net: an event the watcher missed costs latency, never data.
 */
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AsyncSubscription } from '@parcel/watcher';

/** Events arrive after a short batching delay: a checkpoint vouches only for what is older than this. */
export const WATCH_LATENCY_MS = 250;

export class ChangeWatch {
  readonly #paths: string[];
  readonly #rescanEveryMs: number;
  readonly #now: () => number;
  #dirty = new Set<string>();
  #full = true;
  #lastFull = 0;
  #subs: AsyncSubscription[] = [];
  /** Called when something changed (a checkpoint may want to run now). */
  onChange?: () => void;
  onError?: (err: Error) => void;

  constructor(paths: string[], opts: { rescanEveryMs?: number; now: () => number }) {
    this.#paths = paths;
    this.#rescanEveryMs = opts.rescanEveryMs ?? 60_000;
    this.#now = opts.now;
  }

  async start(): Promise<void> {
    const { subscribe } = await import('@parcel/watcher');
    for (const p of this.#paths) {
      let dir = false;
      try {
        dir = statSync(p).isDirectory();
      } catch {
        // Not there yet: scanned each time at the top level anyway.
      }
      if (!dir) continue;
      this.#subs.push(
        await subscribe(p, (err, events) => {
          if (err) {
            this.#full = true;
            this.onError?.(err);
          } else for (const e of events) this.#mark(e.path);
          this.onChange?.();
        }),
      );
    }
  }

  async stop(): Promise<void> {
    for (const s of this.#subs.splice(0)) await s.unsubscribe().catch(() => undefined);
  }

  /** A path changed: it and every folder above it must be listed again. */
  #mark(path: string): void {
    for (let p = path; !this.#dirty.has(p); p = dirname(p)) {
      this.#dirty.add(p);
      if (p === '/' || p === '.') break;
    }
  }

  /**
   * What one checkpoint may skip: a predicate for the archiver (`unchanged`), or undefined for a full scan.
   * The dirty set is taken: what happens from now on belongs to the next checkpoint.
   */
  take(): { unchanged?: (path: string) => boolean; taken: Set<string> } {
    const taken = this.#dirty;
    this.#dirty = new Set();
    const now = this.#now();
    if (this.#full || this.#subs.length === 0 || now - this.#lastFull >= this.#rescanEveryMs) {
      this.#full = false;
      this.#lastFull = now;
      return { taken };
    }
    return { unchanged: (p) => !taken.has(p), taken };
  }

  /** The next checkpoint scans everything (the last full scan failed). */
  rescan(): void {
    this.#full = true;
  }

  /** A checkpoint failed: what it took is still to be sent. */
  giveBack(taken: Set<string>): void {
    for (const p of taken) this.#dirty.add(p);
  }
}
