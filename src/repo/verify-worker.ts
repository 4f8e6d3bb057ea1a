/** Worker thread entry for verifyPack and verifyBlobs (check --read-data). The key arrives as its input (workerInput). */
import { serveRequests, workerInput } from '../core/index.ts';
import { newBlobScratch } from './repository.ts';
import { verifyBlobs, verifyPack, type PackVerdict, type VerifiedTrees, type VerifyReq } from './verify-pack.ts';

const k = await workerInput<{ encryption: Uint8Array; mac: Uint8Array }>();
const master = { encryption: Buffer.from(k.encryption), mac: Buffer.from(k.mac) };
/** Blobs are decrypted and decompressed here, one after another, instead of into new buffers each. */
const scratch = newBlobScratch();

serveRequests((req: VerifyReq): PackVerdict => {
  const bytes = Buffer.from(req.bytes.buffer, req.bytes.byteOffset, req.bytes.byteLength);
  if (req.t === 'pack') return verifyPack(master, req.pack, bytes, req.indexed, req.size, scratch);
  const trees: VerifiedTrees = [];
  const damaged = verifyBlobs(master, req.pack, req.start, bytes, req.blobs, scratch, trees);
  return trees.length > 0 ? { reasons: [], damaged, trees } : { reasons: [], damaged };
});
