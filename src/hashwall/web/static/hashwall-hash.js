// hashwall-hash.js: hash photos and videos entirely in the browser, as `hashwall hash` does.
//
// An ES module with no dependencies and no network access. Pixels and file bytes never leave the
// function that reads them; only the record (hashes, quality, size) is returned. The output of
// hashFile() has the shape of one line of `hashwall hash` JSON (HashRecord.as_json in
// src/hashwall/hashing/record.py). docs/hash-formats.md describes every step.
//
// PDQ follows Meta's C++ reference operation by operation in float32 (Math.fround / Float32Array
// stores after every addition, multiplication and division), because bits whose DCT coefficient
// sits next to the median flip on the smallest rounding difference.

export const DIHEDRAL_NAMES = Object.freeze([
  "original",
  "rotate90",
  "rotate180",
  "rotate270",
  "flipx",
  "flipy",
  "flipplus1",
  "flipminus1",
]);

const REFERENCE_SIDE = 512; // larger images are squashed to 512x512 first, like pdq-photo-hasher
const GRID = 64; // PDQ's downsampled image is 64x64
const DCT_SIZE = 16; // and keeps the 16x16 lowest non-DC frequencies
const MIN_HASHABLE_DIM = 5; // the reference returns an all-zero hash, quality 0, below this
const ZERO_HASH = "0".repeat(64);
const fround = Math.fround;

// ---------------------------------------------------------------------------------------------
// MD5 (RFC 1321), incremental, so large files can be fed in slices. WebCrypto has no MD5, and
// StopNCII-style hash sharing still uses it.

const MD5_SHIFTS = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
// floor(|sin(i + 1)| * 2^32), written out: Math.sin's last bits differ between JS engines.
const MD5_K = [
  0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
  0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
  0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
  0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
  0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
  0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
  0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
  0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
];

function md5Block(state, words) {
  let [a, b, c, d] = state;
  for (let i = 0; i < 64; i++) {
    const round = i >> 4;
    let f;
    let g;
    if (round === 0) {
      f = (b & c) | (~b & d);
      g = i;
    } else if (round === 1) {
      f = (d & b) | (~d & c);
      g = (5 * i + 1) & 15;
    } else if (round === 2) {
      f = b ^ c ^ d;
      g = (3 * i + 5) & 15;
    } else {
      f = c ^ (b | ~d);
      g = (7 * i) & 15;
    }
    const sum = (a + f + MD5_K[i] + words[g]) | 0;
    const shift = MD5_SHIFTS[(round << 2) | (i & 3)];
    a = d;
    d = c;
    c = b;
    b = (b + ((sum << shift) | (sum >>> (32 - shift)))) | 0;
  }
  state[0] = (state[0] + a) | 0;
  state[1] = (state[1] + b) | 0;
  state[2] = (state[2] + c) | 0;
  state[3] = (state[3] + d) | 0;
}

/** Incremental MD5: `const h = createMd5(); h.update(bytes); h.hex()`. */
export function createMd5() {
  const state = new Int32Array([0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476]);
  const block = new Uint8Array(64);
  const words = new Int32Array(16);
  let filled = 0;
  let length = 0; // bytes; exact up to 2**53, far beyond any file a browser can read

  function consume() {
    for (let i = 0; i < 16; i++) {
      const o = i * 4;
      words[i] = block[o] | (block[o + 1] << 8) | (block[o + 2] << 16) | (block[o + 3] << 24);
    }
    md5Block(state, words);
    filled = 0;
  }

  function update(bytes) {
    length += bytes.length;
    let offset = 0;
    while (offset < bytes.length) {
      const take = Math.min(64 - filled, bytes.length - offset);
      block.set(bytes.subarray(offset, offset + take), filled);
      filled += take;
      offset += take;
      if (filled === 64) consume();
    }
  }

  function hex() {
    const bitLength = length * 8;
    block[filled++] = 0x80;
    if (filled > 56) {
      block.fill(0, filled);
      consume();
    }
    block.fill(0, filled, 56);
    // Length in bits, little-endian 64-bit; split because JS bit operators are 32-bit.
    const low = bitLength % 2 ** 32;
    const high = Math.floor(bitLength / 2 ** 32);
    for (let i = 0; i < 4; i++) {
      block[56 + i] = (low >>> (8 * i)) & 0xff;
      block[60 + i] = (high >>> (8 * i)) & 0xff;
    }
    consume();
    let out = "";
    for (const word of state) {
      for (let i = 0; i < 4; i++) out += ((word >>> (8 * i)) & 0xff).toString(16).padStart(2, "0");
    }
    return out;
  }

  return { update, hex };
}

/** MD5 of a byte array, as 32 lower-case hex digits. */
export function md5Hex(bytes) {
  const md5 = createMd5();
  md5.update(bytes);
  return md5.hex();
}

/** SHA-256 through WebCrypto (needs a secure context: https or localhost). */
export async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

// ---------------------------------------------------------------------------------------------
// Sniffing: photo or video by magic bytes (names lie), as src/hashwall/media/sniff.py does.

const ISO_PHOTO_BRANDS = new Set(["heic", "heix", "heim", "heis", "mif1", "msf1", "avif", "avis"]);
const TS_PACKET = 188;

function ascii(bytes, start, end) {
  return String.fromCharCode(...bytes.subarray(start, end));
}

/** "photo", "video" or null (not a media format hashwall knows), from the first bytes. */
export function kindFromHeader(bytes) {
  const tag4 = ascii(bytes, 0, 4);
  const at8 = ascii(bytes, 8, 12);
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "photo";
  if (ascii(bytes, 0, 8) === "\x89PNG\r\n\x1a\n") return "photo";
  if (["GIF87a", "GIF89a"].includes(ascii(bytes, 0, 6)) || ascii(bytes, 0, 2) === "BM") {
    return "photo";
  }
  if (tag4 === "II*\x00" || tag4 === "MM\x00*") return "photo";
  if (tag4 === "RIFF" && at8 === "WEBP") return "photo";
  if (tag4 === "RIFF" && at8 === "AVI ") return "video";
  if (ascii(bytes, 4, 8) === "ftyp") return ISO_PHOTO_BRANDS.has(at8) ? "photo" : "video";
  if (tag4 === "\x1a\x45\xdf\xa3") return "video"; // Matroska / WebM
  if (tag4 === "\x00\x00\x01\xba" || tag4 === "\x00\x00\x01\xb3") return "video"; // MPEG
  if (
    bytes.length > 2 * TS_PACKET &&
    bytes[0] === 0x47 &&
    bytes[TS_PACKET] === 0x47 &&
    bytes[2 * TS_PACKET] === 0x47
  ) {
    return "video"; // MPEG-TS: a sync byte every 188 bytes
  }
  if (tag4 === "FLV\x01" || tag4 === "\x30\x26\xb2\x75") return "video";
  return null;
}

/** Animated GIF/WebP count as videos on the Python side (Meta's vPDQ treats them so too). */
export function isAnimated(bytes) {
  if (ascii(bytes, 0, 4) === "RIFF" && ascii(bytes, 8, 12) === "WEBP") {
    // VP8X chunk first, flag bit 1 = animation; Pillow reports n_frames > 1 only then.
    const flagged = ascii(bytes, 12, 16) === "VP8X" && (bytes[20] & 0x02) !== 0;
    return flagged && countWebpFrames(bytes) > 1;
  }
  if (["GIF87a", "GIF89a"].includes(ascii(bytes, 0, 6))) return countGifFrames(bytes) > 1;
  return false;
}

function countWebpFrames(bytes) {
  let frames = 0;
  for (let offset = 12; offset + 8 <= bytes.length; ) {
    // Little-endian, unsigned: a corrupt size can only step forwards, out of the loop.
    const size = new DataView(bytes.buffer, bytes.byteOffset + offset + 4, 4).getUint32(0, true);
    if (ascii(bytes, offset, offset + 4) === "ANMF") frames++;
    offset += 8 + size + (size & 1);
  }
  return frames;
}

function skipGifSubBlocks(bytes, offset) {
  while (offset < bytes.length && bytes[offset] !== 0) offset += bytes[offset] + 1;
  return offset + 1;
}

function countGifFrames(bytes) {
  let offset = 13;
  if (bytes[10] & 0x80) offset += 3 * (1 << ((bytes[10] & 7) + 1)); // global colour table
  let frames = 0;
  while (offset < bytes.length) {
    const marker = bytes[offset];
    if (marker === 0x2c) {
      frames++;
      if (frames > 1) return frames; // all we need to know
      const packed = bytes[offset + 9];
      offset += 10;
      if (packed & 0x80) offset += 3 * (1 << ((packed & 7) + 1)); // local colour table
      offset = skipGifSubBlocks(bytes, offset + 1); // +1: LZW minimum code size
    } else if (marker === 0x21) {
      offset = skipGifSubBlocks(bytes, offset + 2);
    } else {
      break; // trailer (0x3b) or garbage
    }
  }
  return frames;
}

// ---------------------------------------------------------------------------------------------
// Decoding to pixels.

/**
 * Decode an image Blob to RGBA pixels as displayed: EXIF orientation applied, no colour-space
 * conversion (embedded ICC profiles ignored, as Pillow ignores them), transparency composited
 * over white as media/image.py does.
 */
export async function decodeImage(blob) {
  const bitmap = await createImageBitmap(blob, {
    imageOrientation: "from-image",
    colorSpaceConversion: "none",
    premultiplyAlpha: "none",
  });
  try {
    const { width, height } = bitmap;
    const canvas =
      typeof OffscreenCanvas === "function"
        ? new OffscreenCanvas(width, height)
        : Object.assign(document.createElement("canvas"), { width, height });
    // willReadFrequently keeps the canvas in CPU memory: we read it once, fully, and draw no more.
    const context = canvas.getContext("2d", { willReadFrequently: true, alpha: false });
    // Composite over white while drawing. Canvases store premultiplied colour, so reading a
    // transparent image back and compositing afterwards would lose the colour of faint pixels;
    // drawing an unpremultiplied bitmap over white gives round(c * a / 255 + 255 - a), which is
    // media/image.py's rint(c * alpha + 255 * (1 - alpha)).
    context.fillStyle = "#ffffff";
    context.fillRect(0, 0, width, height);
    context.drawImage(bitmap, 0, 0);
    const rgba = context.getImageData(0, 0, width, height).data;
    flattenAlpha(rgba); // a no-op on an opaque canvas; kept for engines that ignore alpha: false
    return { rgba, width, height };
  } finally {
    bitmap.close();
  }
}

/**
 * Composite transparent pixels over white in place, with media/image.py's float32 formula:
 * rint(c * a + 255 * (1 - a)) with a = alpha / 255.
 */
export function flattenAlpha(rgba) {
  for (let i = 3; i < rgba.length; i += 4) {
    const alphaByte = rgba[i];
    if (alphaByte === 255) continue;
    const alpha = fround(alphaByte / 255);
    const white = fround(255 * fround(1 - alpha));
    for (let c = i - 3; c < i; c++) {
      // Uint8ClampedArray stores round half to even, like numpy's rint.
      rgba[c] = fround(fround(rgba[c] * alpha) + white);
    }
    rgba[i] = 255;
  }
}

// ---------------------------------------------------------------------------------------------
// PDQ.

/**
 * Luma of the region (left, top, width, height) of an RGBA image, squashed to 512x512 by
 * nearest neighbour (source index floor(x * size / 512)) when either side exceeds 512, exactly
 * like reference_downsample() in src/hashwall/signals/pdq.py. `{squash: false}` keeps the full
 * size, as vPDQ hashes video frames.
 *
 * The weighted sum is formed in float64 and rounded to float32 once, because that is what the
 * pdqhash wheel behind the Python exact mode does (numpy arithmetic on uint8 * Python float).
 */
export function regionLuma(rgba, imageWidth, left, top, width, height, options = {}) {
  const allowSquash = options.squash ?? true;
  const squash = allowSquash && (width > REFERENCE_SIDE || height > REFERENCE_SIDE);
  const outWidth = squash ? REFERENCE_SIDE : width;
  const outHeight = squash ? REFERENCE_SIDE : height;
  const cols = new Int32Array(outWidth);
  for (let x = 0; x < outWidth; x++) {
    cols[x] = left + (squash ? Math.floor((x * width) / outWidth) : x);
  }
  const luma = new Float32Array(outWidth * outHeight);
  for (let y = 0; y < outHeight; y++) {
    const sourceRow = top + (squash ? Math.floor((y * height) / outHeight) : y);
    const rowStart = sourceRow * imageWidth;
    for (let x = 0; x < outWidth; x++) {
      const p = (rowStart + cols[x]) * 4;
      luma[y * outWidth + x] = rgba[p] * 0.299 + rgba[p + 1] * 0.587 + rgba[p + 2] * 0.114;
    }
  }
  return { luma, width: outWidth, height: outHeight };
}

/** Per-axis window of the Jarosz tent filter: ceil(n / 128), as the reference rounds it. */
export function jaroszWindow(length) {
  return Math.floor((length + 2 * GRID - 1) / (2 * GRID));
}

/**
 * One box filter over `length` values spaced `stride` apart, written like the reference's
 * box1DFloat: a float32 running sum that adds the entering and subtracts the leaving value, so
 * rounding happens in the same order. Output k averages inputs [k - (w - h), k + h - 1] that
 * exist, h = (w + 2) >> 1.
 */
function box1D(input, output, start, length, stride, window) {
  const half = (window + 2) >> 1;
  const phase1 = half - 1; // accumulate, no writes
  const phase2 = window - half + 1; // writes while the window grows
  const phase3 = length - window; // full window slides
  const phase4 = half - 1; // writes while the window shrinks
  let li = start;
  let ri = start;
  let oi = start;
  let sum = 0;
  let count = 0;
  for (let i = 0; i < phase1; i++, ri += stride) {
    sum = fround(sum + input[ri]);
    count++;
  }
  for (let i = 0; i < phase2; i++, ri += stride, oi += stride) {
    sum = fround(sum + input[ri]);
    count++;
    output[oi] = sum / count; // the Float32Array store rounds, as the float division does
  }
  for (let i = 0; i < phase3; i++, li += stride, ri += stride, oi += stride) {
    sum = fround(sum + input[ri]);
    sum = fround(sum - input[li]);
    output[oi] = sum / count;
  }
  for (let i = 0; i < phase4; i++, li += stride, oi += stride) {
    sum = fround(sum - input[li]);
    count--;
    output[oi] = sum / count;
  }
}

/** Two passes of (boxes along rows, then along columns); the result ends up back in `a`. */
function jaroszFilter(a, b, rows, cols) {
  const alongRows = jaroszWindow(cols);
  const alongCols = jaroszWindow(rows);
  for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < rows; i++) box1D(a, b, i * cols, cols, 1, alongRows);
    for (let j = 0; j < cols; j++) box1D(b, a, j, rows, cols, alongCols);
  }
}

/** Sample the 64x64 cell centres: index floor((i + 0.5) * n / 64). */
function decimate(buffer, rows, cols) {
  const grid = new Float32Array(GRID * GRID);
  for (let i = 0; i < GRID; i++) {
    const row = Math.floor(((i + 0.5) * rows) / GRID);
    for (let j = 0; j < GRID; j++) {
      grid[i * GRID + j] = buffer[row * cols + Math.floor(((j + 0.5) * cols) / GRID)];
    }
  }
  return grid;
}

function gradientStep(u, v) {
  return Math.abs(Math.trunc(fround(fround(fround(u - v) * 100) / 255)));
}

/** PDQ's quality: count of significant gradients in the 64x64 image, /90, capped at 100. */
export function qualityOf(grid) {
  let sum = 0;
  for (let i = 0; i < GRID - 1; i++) {
    for (let j = 0; j < GRID; j++) {
      sum += gradientStep(grid[i * GRID + j], grid[(i + 1) * GRID + j]);
    }
  }
  for (let i = 0; i < GRID; i++) {
    for (let j = 0; j < GRID - 1; j++) {
      sum += gradientStep(grid[i * GRID + j], grid[i * GRID + j + 1]);
    }
  }
  return Math.min(100, Math.floor(sum / 90));
}

// D[i][j] = sqrt(2/64) * cos(pi/128 * (i+1) * (2j+1)) for the 16 lowest non-DC frequencies. The
// reference rounds the scale factor to float32 first, then the product.
const DCT_MATRIX = (() => {
  const matrix = new Float32Array(DCT_SIZE * GRID);
  const scale = fround(Math.sqrt(2 / GRID));
  for (let i = 0; i < DCT_SIZE; i++) {
    for (let j = 0; j < GRID; j++) {
      matrix[i * GRID + j] = scale * Math.cos((Math.PI / 2 / GRID) * (i + 1) * (2 * j + 1));
    }
  }
  return matrix;
})();

/** B = D A Dᵀ (16x16) from the 64x64 image A, summing k = 0..63 in float32 like dct64To16. */
export function dct64To16(grid) {
  const temp = new Float32Array(DCT_SIZE * GRID);
  for (let i = 0; i < DCT_SIZE; i++) {
    for (let j = 0; j < GRID; j++) {
      let sum = 0;
      for (let k = 0; k < GRID; k++) {
        sum = fround(sum + fround(DCT_MATRIX[i * GRID + k] * grid[k * GRID + j]));
      }
      temp[i * GRID + j] = sum;
    }
  }
  const out = new Float32Array(DCT_SIZE * DCT_SIZE);
  for (let i = 0; i < DCT_SIZE; i++) {
    for (let j = 0; j < DCT_SIZE; j++) {
      let sum = 0;
      for (let k = 0; k < GRID; k++) {
        sum = fround(sum + fround(temp[i * GRID + k] * DCT_MATRIX[j * GRID + k]));
      }
      out[i * DCT_SIZE + j] = sum;
    }
  }
  return out;
}

/** Bit k = i*16+j is set when coefficient (i, j) exceeds the 128th smallest coefficient. */
export function dctToHex(dct) {
  const median = Float32Array.from(dct).sort()[127];
  let hex = "";
  for (let nibble = 63; nibble >= 0; nibble--) {
    let value = 0;
    for (let bit = 3; bit >= 0; bit--) {
      value = (value << 1) | (dct[nibble * 4 + bit] > median ? 1 : 0);
    }
    hex += value.toString(16);
  }
  return hex;
}

// How each dihedral variant's DCT is read off the original's (Meta's dct16OriginalTo*): whether
// it is transposed, and the sign of coefficient (i, j) of the original.
const DIHEDRAL_RULES = [
  [false, () => 1], // original
  [true, (i, j) => (j & 1 ? 1 : -1)], // rotate90
  [false, (i, j) => ((i + j) & 1 ? -1 : 1)], // rotate180
  [true, (i) => (i & 1 ? 1 : -1)], // rotate270
  [false, (i) => (i & 1 ? 1 : -1)], // flipx
  [false, (i, j) => (j & 1 ? 1 : -1)], // flipy
  [true, () => 1], // flipplus1
  [true, (i, j) => ((i + j) & 1 ? -1 : 1)], // flipminus1
];

function dihedralDct(dct, transpose, sign) {
  const out = new Float32Array(DCT_SIZE * DCT_SIZE);
  for (let i = 0; i < DCT_SIZE; i++) {
    for (let j = 0; j < DCT_SIZE; j++) {
      const target = transpose ? j * DCT_SIZE + i : i * DCT_SIZE + j;
      out[target] = sign(i, j) * dct[i * DCT_SIZE + j];
    }
  }
  return out;
}

/**
 * PDQ of a float32 luma image (row-major, `width` x `height`): {hash, quality, dihedral?}.
 * `luma` is used as scratch space and overwritten.
 */
export function pdqFromLuma(luma, width, height, { dihedral = true } = {}) {
  if (width < MIN_HASHABLE_DIM || height < MIN_HASHABLE_DIM) {
    return dihedral
      ? { hash: ZERO_HASH, quality: 0, dihedral: DIHEDRAL_NAMES.map(() => ZERO_HASH) }
      : { hash: ZERO_HASH, quality: 0 };
  }
  jaroszFilter(luma, new Float32Array(luma.length), height, width);
  const grid = decimate(luma, height, width);
  const quality = qualityOf(grid);
  const dct = dct64To16(grid);
  const hash = dctToHex(dct);
  if (!dihedral) return { hash, quality };
  const variants = DIHEDRAL_RULES.map(([transpose, sign]) =>
    dctToHex(dihedralDct(dct, transpose, sign)),
  );
  return { hash, quality, dihedral: variants };
}

/** PDQ of a region of an RGBA image, as hashwall's exact mode computes it. */
export function pdqOfRegion(rgba, imageWidth, left, top, width, height, options = {}) {
  const region = regionLuma(rgba, imageWidth, left, top, width, height, options);
  return pdqFromLuma(region.luma, region.width, region.height, options);
}

// ---------------------------------------------------------------------------------------------
// Uniform borders (letterbox, pillarbox, frames), as src/hashwall/media/borders.py finds them.

const BORDER_TOLERANCE = 12; // grey levels a bar may wander and still be one flat colour
const MIN_BAR_FRACTION = 0.01; // thinner bars are compression artefacts, not padding
const MIN_CONTENT_FRACTION = 0.1; // if less would remain, the picture itself is flat
const SCAN_SAMPLES = 512; // rows/columns are scanned on a subsample about this wide

const BORDER_WEIGHTS = [fround(0.299), fround(0.587), fround(0.114)];

// borders.py computes luma as a float32 matrix product, so every step is rounded to float32.
function borderLuma(rgba, p) {
  const [wr, wg, wb] = BORDER_WEIGHTS;
  return fround(fround(fround(rgba[p] * wr) + fround(rgba[p + 1] * wg)) + fround(rgba[p + 2] * wb));
}

function medianFloat32(values) {
  const sorted = Float32Array.from(values).sort();
  const middle = sorted.length >> 1;
  // numpy's median of an even count: the float32 mean of the two middle values.
  if (sorted.length & 1) return sorted[middle];
  return fround(fround(sorted[middle - 1] + sorted[middle]) / 2);
}

/**
 * How many leading lines are flat and of the first line's colour (borders._bar_depth).
 * `readLine(i)` gives line i's luma values.
 */
function barDepth(lineCount, readLine, tolerance) {
  if (lineCount === 0) return 0;
  // The bar colour is the median luma of the first line, as in borders.py.
  const colour = medianFloat32(readLine(0));
  for (let line = 0; line < lineCount; line++) {
    const values = readLine(line);
    let total = 0;
    let worst = 0;
    for (const value of values) {
      const deviation = Math.abs(fround(value - colour));
      total += deviation;
      if (deviation > worst) worst = deviation;
    }
    if (!(total / values.length <= tolerance / 2 && worst <= tolerance * 2)) return line;
  }
  return lineCount;
}

function toPixels(depth, step, side) {
  const pixels = depth * step;
  return pixels < Math.max(2, MIN_BAR_FRACTION * side) ? 0 : pixels;
}

/**
 * Flat bars on each side of an RGBA image: [left, top, right, bottom] pixels to remove, or null
 * when there are none worth removing (borders.find_uniform_borders).
 */
export function findUniformBorders(rgba, width, height, tolerance = BORDER_TOLERANCE) {
  if (height < 8 || width < 8) return null;
  const rowStep = Math.max(1, Math.floor(height / SCAN_SAMPLES));
  const colStep = Math.max(1, Math.floor(width / SCAN_SAMPLES));
  const rows = Array.from({ length: Math.ceil(height / rowStep) }, (_, i) => i * rowStep);
  const cols = Array.from({ length: Math.ceil(width / colStep) }, (_, i) => i * colStep);
  const h = rows.length;
  const w = cols.length;
  const rowLine = (y) => cols.map((x) => borderLuma(rgba, (y * width + x) * 4));
  const colLine = (x) => rows.map((y) => borderLuma(rgba, (y * width + x) * 4));
  const half = (n) => n >> 1;
  const top = barDepth(half(h), (i) => rowLine(rows[i]), tolerance);
  const bottom = barDepth(half(h), (i) => rowLine(rows[h - 1 - i]), tolerance);
  const left = barDepth(half(w), (i) => colLine(cols[i]), tolerance);
  const right = barDepth(half(w), (i) => colLine(cols[w - 1 - i]), tolerance);
  const crop = [
    toPixels(left, colStep, width),
    toPixels(top, rowStep, height),
    toPixels(right, colStep, width),
    toPixels(bottom, rowStep, height),
  ];
  const remainingWidth = width - crop[0] - crop[2];
  const remainingHeight = height - crop[1] - crop[3];
  const narrow = remainingWidth < MIN_CONTENT_FRACTION * width;
  if (narrow || remainingHeight < MIN_CONTENT_FRACTION * height) return null;
  return crop.every((side) => side === 0) ? null : crop;
}

// ---------------------------------------------------------------------------------------------
// Records.

/**
 * The `signals.pdq` object of a decoded photo: hash, quality, dihedral and, when uniform bars
 * are found, `borderless` (the same without the bars, plus `crop`).
 */
export function photoSignals(rgba, width, height, { dihedral = true, removeBorders = true } = {}) {
  const pdq = pdqOfRegion(rgba, width, 0, 0, width, height, { dihedral });
  if (removeBorders) {
    const crop = findUniformBorders(rgba, width, height);
    if (crop !== null) {
      const [left, top, right, bottom] = crop;
      const innerWidth = width - left - right;
      const innerHeight = height - top - bottom;
      const inner = pdqOfRegion(rgba, width, left, top, innerWidth, innerHeight, { dihedral });
      pdq.borderless = { ...inner, crop };
    }
  }
  return pdq;
}

/** Why a file could not be hashed, worded like the Python CLI's reasons. */
export class HashError extends Error {
  constructor(path, reason) {
    super(`${path}: ${reason}`);
    this.name = "HashError";
    this.path = path;
    this.reason = reason;
  }
}

/**
 * Fingerprint one File or Blob entirely in this browser. Resolves to an object shaped like one
 * line of `hashwall hash` JSON:
 *   photo: {path, content_type: "photo", signals: {pdq: {hash, quality, dihedral, borderless?},
 *           md5, sha256}, size: [width, height]}
 *   video (and animated GIF/WebP): {path, content_type: "video", signals: {vpdq, md5, sha256}}
 * Animations get their vPDQ frames here (ImageDecoder works in a worker). A video container
 * needs a <video> element, which only the page has: its `vpdq` is null here, and
 * hashFilesInWorker fills it on the page with videoFrameHashes().
 * Options: dihedral (default true), removeBorders (default true), path (default the file name),
 * secondsPerHash (default 1, as `hashwall hash`), limits (default VIDEO_LIMITS).
 */
export async function hashFile(file, options = {}) {
  const { dihedral = true, removeBorders = true, path } = options;
  const { secondsPerHash = SECONDS_PER_HASH, limits = VIDEO_LIMITS } = options;
  const name = path ?? file.webkitRelativePath ?? "";
  const recordPath = name || file.name || "";
  if (file.size === 0) throw new HashError(recordPath, "empty file (0 bytes)");
  const head = new Uint8Array(await file.slice(0, 512).arrayBuffer());
  if (kindFromHeader(head) === "video" && file.size > limits.maxBytes) {
    throw new HashError(recordPath, `video larger than ${limits.maxBytes / 2 ** 20} MB`);
  }
  const bytes = new Uint8Array(await file.arrayBuffer());
  let kind = kindFromHeader(bytes.subarray(0, 512));
  if (kind === null) {
    throw new HashError(recordPath, "not an image or video (unrecognised file format)");
  }
  if (kind === "photo" && isAnimated(bytes)) kind = "video";
  const [md5, sha256] = [md5Hex(bytes), await sha256Hex(bytes)];
  if (kind === "video") {
    let vpdq = null;
    if (isAnimated(bytes)) {
      vpdq = await animationFrameHashes(file, bytes, { secondsPerHash, removeBorders, limits });
    }
    return { path: recordPath, content_type: "video", signals: { vpdq, md5, sha256 } };
  }
  let image;
  try {
    image = await decodeImage(file);
  } catch (error) {
    const why = error?.message || String(error);
    throw new HashError(recordPath, `not a readable image in this browser (${why})`);
  }
  const pdq = photoSignals(image.rgba, image.width, image.height, { dihedral, removeBorders });
  return {
    path: recordPath,
    content_type: "photo",
    signals: { pdq, md5, sha256 },
    size: [image.width, image.height],
  };
}

// ---------------------------------------------------------------------------------------------
// Video (vPDQ): one PDQ per sampled frame, as src/hashwall/signals/vpdq.py hashes them.

/** Sampling interval of `hashwall hash` (--seconds-per-hash). */
export const SECONDS_PER_HASH = 1;
/** What a browser tab is asked to fingerprint: longer or larger videos get a clear message. */
export const VIDEO_LIMITS = Object.freeze({ maxSeconds: 30 * 60, maxBytes: 1024 * 2 ** 20 });
const DEFAULT_GIF_FRAME_MS = 100; // Pillow's duration for a frame that states none
/**
 * Video frames are drawn at most this many pixels on their longer side before hashing. PDQ
 * keeps only 16x16 frequencies of a 64x64 downsample, so the browser's smooth downscale costs a
 * few bits against the CLI's full-size frames (tests/web/test_browser_video.py checks 720p) and
 * makes hashing a 720p frame about 3x faster (benchmarks/browser_video_bench.py).
 */
export const VIDEO_FRAME_SIDE = 512;

/**
 * The vPDQ record of one decoded frame (RGBA): PDQ at the frame's own size (no 512 squash, no
 * dihedral variants) and, when uniform bars are found, the hash without them - the JSON shape
 * of `hashwall hash` ({frame, quality, hash, timestamp, borderless?}).
 */
export function videoFrameRecord(rgba, width, height, frame, timestamp, removeBorders = true) {
  const flat = { dihedral: false, squash: false };
  const { hash, quality } = pdqOfRegion(rgba, width, 0, 0, width, height, flat);
  const record = { frame, quality, hash, timestamp: Math.round(timestamp * 1000) / 1000 };
  const crop = removeBorders ? findUniformBorders(rgba, width, height) : null;
  if (crop !== null) {
    const [left, top, right, bottom] = crop;
    const inner = pdqOfRegion(rgba, width, left, top, width - left - right, height - top - bottom, flat);
    record.borderless = { hash: inner.hash, quality: inner.quality };
  }
  return record;
}

function canvasOf(width, height) {
  return typeof OffscreenCanvas === "function"
    ? new OffscreenCanvas(width, height)
    : Object.assign(document.createElement("canvas"), { width, height });
}

/** RGBA pixels of anything drawImage takes (a <video>, a VideoFrame), composited on white. */
function pixelsOf(source, width, height) {
  const context = canvasOf(width, height).getContext("2d", { willReadFrequently: true, alpha: false });
  context.imageSmoothingQuality = "high";
  context.fillStyle = "#ffffff";
  context.fillRect(0, 0, width, height);
  context.drawImage(source, 0, 0, width, height);
  return context.getImageData(0, 0, width, height).data;
}

/** Sample times of a clip: 0, s, 2s, ... before its end (every-n-th-frame at the frame rate). */
export function sampleTimes(duration, secondsPerHash = SECONDS_PER_HASH) {
  const step = secondsPerHash > 0 ? secondsPerHash : 1 / 30;
  const times = [];
  for (let k = 0; k * step < duration; k++) times.push(k * step);
  return times.length ? times : [0];
}

function tooLong(duration, limits) {
  return `video longer than ${Math.round(limits.maxSeconds / 60)} minutes (${Math.round(duration / 60)} min): fingerprint it with hashwall hash on a computer`;
}

/**
 * vPDQ frames of an animated GIF/WebP, decoded with WebCodecs' ImageDecoder (works in a Web
 * Worker): a frame is taken when its start time reaches the next sample time, as
 * media/video.py does with Pillow.
 */
export async function animationFrameHashes(file, bytes, { secondsPerHash = SECONDS_PER_HASH, removeBorders = true, limits = VIDEO_LIMITS } = {}) {
  if (typeof ImageDecoder !== "function") {
    throw new Error("this browser cannot decode animations (no ImageDecoder)");
  }
  const type = ascii(bytes, 0, 3) === "GIF" ? "image/gif" : "image/webp";
  const decoder = new ImageDecoder({ data: bytes, type });
  try {
    await decoder.tracks.ready;
    const count = decoder.tracks.selectedTrack.frameCount;
    const frames = [];
    let elapsedMs = 0;
    let nextSampleMs = 0;
    for (let index = 0; index < count; index++) {
      const { image } = await decoder.decode({ frameIndex: index, completeFramesOnly: true });
      try {
        const durationMs = image.duration ? image.duration / 1000 : DEFAULT_GIF_FRAME_MS;
        if (elapsedMs >= nextSampleMs) {
          const width = image.displayWidth;
          const height = image.displayHeight;
          frames.push(videoFrameRecord(pixelsOf(image, width, height), width, height, index, elapsedMs / 1000, removeBorders));
          nextSampleMs = elapsedMs + secondsPerHash * 1000;
        }
        elapsedMs += durationMs;
      } finally {
        image.close();
      }
      if (elapsedMs / 1000 > limits.maxSeconds) throw new Error(tooLong(elapsedMs / 1000, limits));
    }
    return frames;
  } finally {
    decoder.close();
  }
}

function once(target, name, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} timed out`)), timeoutMs);
    const done = (event) => {
      clearTimeout(timer);
      target.removeEventListener("error", failed);
      resolve(event);
    };
    const failed = () => {
      clearTimeout(timer);
      target.removeEventListener(name, done);
      const code = target.error?.code;
      reject(new Error(code === 4 ? "this browser cannot play this video format" : "corrupt or unreadable video"));
    };
    target.addEventListener(name, done, { once: true });
    target.addEventListener("error", failed, { once: true });
  });
}

/**
 * Resolves once the <video> has presented a new frame (so drawImage gets the seeked frame, not
 * the one before it, which a busy machine could otherwise hand over), or after a short wait
 * where the browser has no requestVideoFrameCallback or the frame did not change.
 */
function framePresented(video, waitMs = 1000) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, waitMs);
    video.requestVideoFrameCallback?.(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * vPDQ frames of a video file, decoded by the browser's own <video> element (so on the page,
 * not in a worker): seek to every sample time, draw the frame, hash it. The file is read through
 * a local blob: URL; no byte of it goes anywhere else. `onProgress({done, total})` after each
 * frame. Frame hashes are not bit-identical to PyAV's decode (different decoders and seek
 * points), but the same and re-encoded copies match (tests/web/test_browser_video.py).
 */
export async function videoFrameHashes(file, { secondsPerHash = SECONDS_PER_HASH, removeBorders = true, limits = VIDEO_LIMITS, onProgress } = {}) {
  const video = document.createElement("video");
  video.muted = true;
  video.preload = "auto";
  const url = URL.createObjectURL(file);
  try {
    const loaded = once(video, "loadeddata", 60_000, "reading the video");
    video.src = url;
    await loaded;
    const { duration, videoWidth, videoHeight } = video;
    if (!videoWidth || !videoHeight) throw new Error("has no video track");
    const scale = Math.min(1, VIDEO_FRAME_SIDE / Math.max(videoWidth, videoHeight));
    const width = Math.max(1, Math.round(videoWidth * scale));
    const height = Math.max(1, Math.round(videoHeight * scale));
    if (!Number.isFinite(duration)) throw new Error("video length unknown (a stream, not a file)");
    if (duration > limits.maxSeconds) throw new Error(tooLong(duration, limits));
    const times = sampleTimes(duration, secondsPerHash);
    const frames = [];
    for (const [index, time] of times.entries()) {
      // Just past the sample time, so a frame starting exactly there is the one shown.
      const target = Math.min(time + 0.001, Math.max(0, duration - 0.001));
      const seeked = once(video, "seeked", 30_000, "seeking in the video");
      const presented = framePresented(video);
      video.currentTime = target;
      await seeked;
      await presented;
      frames.push(videoFrameRecord(pixelsOf(video, width, height), width, height, index, time, removeBorders));
      onProgress?.({ done: index + 1, total: times.length });
    }
    return frames;
  } finally {
    video.removeAttribute("src");
    video.load();
    URL.revokeObjectURL(url);
  }
}

// ---------------------------------------------------------------------------------------------
// Off the main thread.

/**
 * Hash files in a module Web Worker (hashwall-hash-worker.js beside this file), so large batches
 * never block the page. Files are hashed one after another to keep memory bounded (a decoded
 * 48 MP photo is ~200 MB of RGBA). `onResult({index, file, record | error, ms})` is called as
 * each finishes; resolves to all results in input order.
 */
export async function hashFilesInWorker(files, { onResult, onProgress, options = {}, workerUrl } = {}) {
  const url = workerUrl ?? new URL("./hashwall-hash-worker.js", import.meta.url);
  const worker = new Worker(url, { type: "module" });
  try {
    const results = [];
    for (const [index, file] of Array.from(files).entries()) {
      let reply = await new Promise((resolve) => {
        worker.onmessage = ({ data }) => resolve(data);
        worker.onerror = (event) => resolve({ error: event.message || "worker failed" });
        worker.postMessage({ file, options });
      });
      if (reply.record?.content_type === "video" && reply.record.signals.vpdq === null) {
        reply = await withVideoFrames(file, reply, options, (p) => onProgress?.({ index, file, ...p }));
      }
      const result = { index, file, ...reply };
      results.push(result);
      onResult?.(result);
    }
    return results;
  } finally {
    worker.terminate();
  }
}

/** The worker's record of a video, completed on the page with its vPDQ frames. */
async function withVideoFrames(file, reply, options, onProgress) {
  const started = performance.now();
  try {
    const vpdq = await videoFrameHashes(file, { ...options, onProgress });
    const record = { ...reply.record, signals: { ...reply.record.signals, vpdq } };
    return { record, ms: reply.ms + performance.now() - started };
  } catch (error) {
    const path = reply.record.path;
    return { error: `${path}: ${error?.message ?? error}`, ms: reply.ms + performance.now() - started };
  }
}
