/**
 * Blob compression: zstd, or raw when the data does not compress.
 *
 * Incompressible data (media, archives, already-encrypted files) is detected on a sample before paying for
 * a full pass: if the first `defaults.compressSample` bytes do not shrink below `incompressibleRatio`, the
 * blob is stored raw. The chosen mode is recorded per blob (pack header and index), so readers never guess.
 */
import { createRequire } from 'node:module';
import { compress as zstdCompress, decompress as zstdDecompress } from 'zstd-napi';
import type * as ZstdBinding from 'zstd-napi/binding.js';
import { defaults, IntegrityError, scratchBuffer, subjectText, type Scratch, type Subject } from '../core/index.ts';

/** zstd-napi's native binding: compression and decompression into buffers we own. */
const zstdBinding = createRequire(import.meta.url)('zstd-napi/binding') as typeof ZstdBinding;

/** Per-thread zstd contexts: one at level 1 for samples, one per level for whole blobs (no re-sizing between). */
const cctxs = new Map<number, InstanceType<typeof zstdBinding.CCtx>>();
let dctx: InstanceType<typeof zstdBinding.DCtx> | undefined;

function zstdInto(data: Uint8Array, level: number, scratch: Scratch): Buffer {
  let c = cctxs.get(level);
  if (!c) {
    c = new zstdBinding.CCtx();
    c.setParameter(zstdBinding.CParameter.compressionLevel, level);
    cctxs.set(level, c);
  }
  const out = scratchBuffer(scratch, zstdBinding.compressBound(data.length));
  return out.subarray(0, c.compress2(out, data));
}

export const Compression = { None: 0, Zstd: 1 } as const;
export type Compression = (typeof Compression)[keyof typeof Compression];

export interface Compressed {
  data: Buffer | Uint8Array;
  compression: Compression;
}

/** With `scratch`, compressed data is a view into it (valid until its next use). */
export function compressBlob(data: Uint8Array, level: number = defaults.zstdLevel, scratch?: Scratch, sample = true): Compressed {
  if (data.length < 64) return { data, compression: Compression.None };
  // `sample` false: the caller knows better than the first 64 KiB (a chunk running into a hole of zeros).
  if (sample && data.length > defaults.compressSample * 2) {
    const sample = data.subarray(0, defaults.compressSample);
    const n = scratch ? zstdInto(sample, 1, scratch).length : zstdCompress(sample, { compressionLevel: 1 }).length;
    if (n >= sample.length * defaults.incompressibleRatio) return { data, compression: Compression.None };
  }
  const out = scratch ? zstdInto(data, level, scratch) : zstdCompress(data, { compressionLevel: level });
  if (out.length >= data.length * defaults.incompressibleRatio) return { data, compression: Compression.None };
  return { data: out, compression: Compression.Zstd };
}

/**
 * `rawLength` -1: unknown (documents), bounded by `maxLength` instead. The frame's declared content size is
 * checked before decompressing, so a damaged frame cannot make us allocate more than the caller expects.
 * With `scratch`, zstd output is a view into it (valid until its next use); raw data is returned as given.
 */
export function decompressBlob(data: Buffer, compression: number, rawLength: number, what: Subject, maxLength = rawLength, scratch?: Scratch): Buffer {
  if (compression === Compression.None) {
    if (data.length !== rawLength) throw new IntegrityError(`${subjectText(what)}: length ${data.length}, index says ${rawLength}`);
    return data;
  }
  if (compression !== Compression.Zstd) throw new IntegrityError(`${subjectText(what)}: unknown compression ${compression}`);
  const declared = frameContentSize(data);
  if (declared === undefined || declared > maxLength || (rawLength >= 0 && declared !== rawLength)) {
    throw new IntegrityError(`${subjectText(what)}: zstd frame declares ${declared ?? 'no'} content size, expected ${rawLength >= 0 ? rawLength : `at most ${maxLength}`}`);
  }
  let out: Buffer;
  try {
    if (scratch) {
      const buf = scratchBuffer(scratch, declared);
      dctx ??= new zstdBinding.DCtx();
      out = buf.subarray(0, dctx.decompress(buf.subarray(0, declared), data));
    } else {
      out = zstdDecompress(data);
    }
  } catch (cause) {
    throw new IntegrityError(`${subjectText(what)}: zstd frame is damaged`, { cause });
  }
  if (rawLength >= 0 && out.length !== rawLength) throw new IntegrityError(`${subjectText(what)}: decompressed to ${out.length} bytes, index says ${rawLength}`);
  return out;
}

/** The content size a zstd frame header declares (RFC 8878 §3.1.1.1), or undefined if it has none. */
export function frameContentSize(f: Buffer): number | undefined {
  if (f.length < 6 || f.readUInt32LE(0) !== 0xfd2fb528) return undefined;
  const fhd = f[4]!;
  const fcsFlag = fhd >> 6;
  const singleSegment = (fhd >> 5) & 1;
  const dictFlag = fhd & 3;
  const pos = 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][dictFlag]!;
  const size = fcsFlag === 0 ? (singleSegment ? 1 : 0) : [1, 2, 4, 8][fcsFlag]!;
  if (size === 0 || f.length < pos + size) return undefined;
  switch (size) {
    case 1:
      return f[pos]!;
    case 2:
      return f.readUInt16LE(pos) + 256;
    case 4:
      return f.readUInt32LE(pos);
    default: {
      const v = f.readBigUInt64LE(pos);
      return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
    }
  }
}
