/**
 * Starting a worker thread from a sibling module. Built code runs `<name>.js` directly. Under tsx (tests,
 * development) Node 20 does not carry the loader into worker threads, so a tiny bootstrap registers it.
 */
import { Worker } from 'node:worker_threads';

export function startWorker(name: string, workerData: unknown): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, import.meta.url), { workerData });
  const url = new URL(`./${name}.ts`, import.meta.url).href;
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}); })`;
  return new Worker(boot, { eval: true, workerData });
}
