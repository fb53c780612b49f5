// node --test: MD5 against RFC 1321's test suite and across block boundaries, in any slicing.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";

import { createMd5, md5Hex } from "../../../src/hashwall/web/static/hashwall-hash.js";

const encode = (text) => new TextEncoder().encode(text);

test("RFC 1321 test suite", () => {
  const vectors = {
    "": "d41d8cd98f00b204e9800998ecf8427e",
    a: "0cc175b9c0f1b6a831c399e269772661",
    abc: "900150983cd24fb0d6963f7d28e17f72",
    "message digest": "f96b697d7cb7938d525a2f31aaf161d0",
    abcdefghijklmnopqrstuvwxyz: "c3fcd3d76192e4007dfb496cca67e13b",
    ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:
      "d174ab98d277d9f5a5611c2c9f419d9f",
    ["1234567890".repeat(8)]: "57edf4a22be3c955ac49da2e2107b67a",
  };
  for (const [text, expected] of Object.entries(vectors)) assert.equal(md5Hex(encode(text)), expected);
});

test("every length around the 56- and 64-byte padding boundaries", () => {
  for (let length = 0; length <= 200; length++) {
    const bytes = Uint8Array.from({ length }, (_, i) => (i * 31 + length) & 0xff);
    assert.equal(md5Hex(bytes), createHash("md5").update(bytes).digest("hex"), `length ${length}`);
  }
});

test("incremental updates equal one update", () => {
  const bytes = Uint8Array.from({ length: 100_003 }, (_, i) => (i * 7919) & 0xff);
  const md5 = createMd5();
  for (let offset = 0, step = 1; offset < bytes.length; offset += step, step = ((step * 3 + 1) % 997) || 1) {
    md5.update(bytes.subarray(offset, offset + step));
  }
  assert.equal(md5.hex(), createHash("md5").update(bytes).digest("hex"));
});
