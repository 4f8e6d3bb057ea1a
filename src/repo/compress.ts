/**
 * Blob compression: zstd, or raw when the data does not compress.
 *
 * Incompressible data (media, archives, already-encrypted files) is detected on a sample before paying for
 * a full pass: if the first `defaults.compressSample` bytes do not shrink below `incompressibleRatio`, the
 * blob is stored raw. The chosen mode is recorded per blob (pack header and index), so readers never guess.
 */
import { compress as zstdCompress, decompress as zstdDecompress } from 'zstd-napi';
import { defaults, IntegrityError } from '../core/index.ts';

export const Compression = { None: 0, Zstd: 1 } as const;
export type Compression = (typeof Compression)[keyof typeof Compression];

export interface Compressed {
  data: Buffer | Uint8Array;
  compression: Compression;
}

export function compressBlob(data: Uint8Array, level: number = defaults.zstdLevel): Compressed {
  if (data.length < 64) return { data, compression: Compression.None };
  if (data.length > defaults.compressSample * 2) {
    const sample = data.subarray(0, defaults.compressSample);
    const s = zstdCompress(sample, { compressionLevel: 1 });
    if (s.length >= sample.length * defaults.incompressibleRatio) return { data, compression: Compression.None };
  }
  const out = zstdCompress(data, { compressionLevel: level });
  if (out.length >= data.length * defaults.incompressibleRatio) return { data, compression: Compression.None };
  return { data: out, compression: Compression.Zstd };
}

export function decompressBlob(data: Buffer, compression: number, rawLength: number, what: string): Buffer {
  if (compression === Compression.None) {
    if (data.length !== rawLength) throw new IntegrityError(`${what}: length ${data.length}, index says ${rawLength}`);
    return data;
  }
  if (compression !== Compression.Zstd) throw new IntegrityError(`${what}: unknown compression ${compression}`);
  let out: Buffer;
  try {
    out = zstdDecompress(data);
  } catch (cause) {
    throw new IntegrityError(`${what}: zstd frame is damaged`, { cause });
  }
  if (out.length !== rawLength) throw new IntegrityError(`${what}: decompressed to ${out.length} bytes, index says ${rawLength}`);
  return out;
}
