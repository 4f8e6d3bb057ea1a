/**
 * Worker thread entry of check --read-data: verifyPack and verifyBlobs, and decoding index files (their
 * JSON objects then never reach the main thread's heap). The key arrives as its input (workerInput).
 */
import { serveRequests, workerInput } from '../core/index.ts';
import { indexedPacksTransfer, type IndexedPacks } from './blob-index.ts';
import { decodeIndexFile, newBlobScratch } from './repository.ts';
import { verifyBlobs, verifyPack, type PackVerdict, type VerifiedTrees, type VerifyReq } from './verify-pack.ts';

const k = await workerInput<{ encryption: Uint8Array; mac: Uint8Array }>();
const master = { encryption: Buffer.from(k.encryption), mac: Buffer.from(k.mac) };
/** Blobs are decrypted and decompressed here, one after another, instead of into new buffers each. */
const scratch = newBlobScratch();

serveRequests(
  (req: VerifyReq): PackVerdict | IndexedPacks => {
    const bytes = Buffer.from(req.bytes.buffer, req.bytes.byteOffset, req.bytes.byteLength);
    if (req.t === 'index') return decodeIndexFile(master, req.name, bytes);
    if (req.t === 'pack') return verifyPack(master, req.pack, bytes, req.indexed, req.size, scratch);
    const trees: VerifiedTrees = [];
    const damaged = verifyBlobs(master, req.pack, req.start, bytes, req.blobs, scratch, trees);
    return trees.length > 0 ? { reasons: [], damaged, trees } : { reasons: [], damaged };
  },
  (res) => ('packs' in res ? indexedPacksTransfer(res) : []),
);
