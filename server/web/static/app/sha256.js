// SHA-256 of evidence on the phone, sent with the upload so the server can prove it got the same
// bytes. crypto.subtle (secure contexts: https, localhost, 127.0.0.1) digests whole buffers only,
// so a file larger than SUBTLE_MAX is hashed by the incremental implementation below, one slice
// at a time, and memory stays flat whatever the size of a video.

const SUBTLE_MAX = 64 * 1024 * 1024;
const SLICE = 4 * 1024 * 1024;

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** Incremental SHA-256 (FIPS 180-4): update() with bytes as they come, then hex(). */
export class Sha256 {
  constructor() {
    this.h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    this.block = new Uint8Array(64);
    this.used = 0;
    this.length = 0;
    this.w = new Uint32Array(64);
  }

  update(bytes) {
    let i = 0;
    this.length += bytes.length;
    if (this.used) {
      const take = Math.min(64 - this.used, bytes.length);
      this.block.set(bytes.subarray(0, take), this.used);
      this.used += take;
      i = take;
      if (this.used < 64) return this;
      this.compress(this.block, 0);
      this.used = 0;
    }
    for (; i + 64 <= bytes.length; i += 64) this.compress(bytes, i);
    if (i < bytes.length) {
      this.block.set(bytes.subarray(i), 0);
      this.used = bytes.length - i;
    }
    return this;
  }

  compress(bytes, at) {
    const w = this.w;
    for (let j = 0; j < 16; j += 1) {
      const p = at + j * 4;
      w[j] = (bytes[p] << 24) | (bytes[p + 1] << 16) | (bytes[p + 2] << 8) | bytes[p + 3];
    }
    for (let j = 16; j < 64; j += 1) {
      const a = w[j - 15];
      const b = w[j - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[j] = (w[j - 16] + s0 + w[j - 7] + s1) | 0;
    }
    let [a, b, c, d, e, f, g, hh] = this.h;
    for (let j = 0; j < 64; j += 1) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + S1 + ch + K[j] + w[j]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    const h = this.h;
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }

  hex() {
    const bits = this.length * 8;
    const tail = new Uint8Array(((this.used + 9 + 63) >> 6) << 6);
    tail.set(this.block.subarray(0, this.used));
    tail[this.used] = 0x80;
    const view = new DataView(tail.buffer);
    view.setUint32(tail.length - 8, Math.floor(bits / 2 ** 32));
    view.setUint32(tail.length - 4, bits >>> 0);
    for (let i = 0; i < tail.length; i += 64) this.compress(tail, i);
    return Array.from(this.h, (x) => x.toString(16).padStart(8, "0")).join("");
  }
}

const toHex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");

/** The hex SHA-256 of a Blob or File; onProgress(fraction) for large ones. */
export async function sha256OfBlob(blob, onProgress = () => {}, { subtleMax = SUBTLE_MAX } = {}) {
  if (blob.size <= subtleMax && globalThis.crypto && crypto.subtle) {
    return toHex(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
  }
  const hash = new Sha256();
  for (let at = 0; at < blob.size; at += SLICE) {
    hash.update(new Uint8Array(await blob.slice(at, at + SLICE).arrayBuffer()));
    onProgress(Math.min(1, (at + SLICE) / blob.size));
  }
  return hash.hex();
}

/** base64 of the SHA-256 of a buffer: the tus Upload-Checksum of one chunk. */
export async function sha256Base64(buffer) {
  let bytes;
  if (globalThis.crypto && crypto.subtle) bytes = new Uint8Array(await crypto.subtle.digest("SHA-256", buffer));
  else bytes = Uint8Array.from(new Sha256().update(new Uint8Array(buffer)).hex().match(/../g), (x) => parseInt(x, 16));
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}
