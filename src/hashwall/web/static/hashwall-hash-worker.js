// Module Web Worker: hashes one File per message with hashwall-hash.js, off the page's thread.
// Message in: {file: File | Blob, options?: {dihedral, removeBorders, path}}.
// Message out: {record, ms} or {error, ms}. Nothing is fetched or sent anywhere else.

import { hashFile } from "./hashwall-hash.js";

self.onmessage = async ({ data }) => {
  const started = performance.now();
  try {
    const record = await hashFile(data.file, data.options ?? {});
    self.postMessage({ record, ms: performance.now() - started });
  } catch (error) {
    self.postMessage({ error: String(error?.message ?? error), ms: performance.now() - started });
  }
};
