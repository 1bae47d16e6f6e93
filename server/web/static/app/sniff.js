// Evidence checked on attach: the first bytes of a file are judged as the server will judge them
// after Finish (server/media/sniff.py and the size limits of server/media/service.py), so that a
// PDF, an archive, an empty or a too large file is refused at once, at its question, and never
// reaches the outbox. The tables (brands, atoms, magic numbers, MP3 frame tables) and the limits
// are not copied here: the server writes them into the shell (#media-rules, from sniff.py's own
// tables and the configuration); this module runs sniff.py's decisions on them. A test holds its
// verdicts equal to the server's on a corpus of files (tests/web/app/test_evidence_check.py).

let rules = null;

const latin1 = (hex) => String.fromCharCode(...(hex.match(/../g) || []).map((x) => parseInt(x, 16)));
const set = (hexes) => new Set(hexes.map(latin1));

/** The rules from the shell (or given, for tests); null when the shell has none. */
export function loadRules(given = null) {
  if (given) rules = null;
  if (rules) return rules;
  let raw = given;
  if (!raw && typeof document !== "undefined") {
    const el = document.getElementById("media-rules");
    try { raw = el ? JSON.parse(el.textContent) : null; } catch { raw = null; }
  }
  if (!raw) return null;
  rules = {
    head: raw.head_bytes, accepted: raw.accepted, limits: raw.limits,
    heic: set(raw.brands.heic), heif: set(raw.brands.heif), audio: set(raw.brands.audio),
    quicktime: set(raw.brands.quicktime), gpp: set(raw.brands["3gpp"]), mp4: set(raw.brands.mp4),
    refused: new Map(Object.entries(raw.refused_brands).map(([hex, name]) => [latin1(hex), name])),
    atoms: set(raw.quicktime_atoms), bitrates: raw.mp3_bitrates, rates: raw.mp3_rates,
    magic: raw.magic.map(([offset, hex, name]) => [offset, latin1(hex), name]),
  };
  return rules;
}

const u32 = (h, at) => ((h[at] << 24) >>> 0) + (h[at + 1] << 16) + (h[at + 2] << 8) + h[at + 3];
const printable = (text) => `'${text.replace(/[\x00-\x1f]/g, "?")}'`;

/** [kind, type] when allow-listed; a string names a recognised but refused type; null: unknown. */
function accepted(R, h, b) {
  if (b.startsWith("\xff\xd8\xff")) return ["photo", "image/jpeg"];
  if (b.startsWith("\x89PNG\r\n\x1a\n")) return ["photo", "image/png"];
  const first = b.slice(0, 4);
  if ((first === "RIFF" || first === "RF64") && h.length >= 12) {
    const sub = b.slice(8, 12);
    if (sub === "WEBP" && first === "RIFF") return ["photo", "image/webp"];
    if (sub === "WAVE") return ["audio", "audio/wav"];
    if (sub === "AVI ") return "an AVI video (video/x-msvideo)";
    return `a RIFF container of type ${printable(sub)}`;
  }
  if (b.slice(4, 8) === "ftyp") return isoMedia(R, h, b);
  if (R.atoms.has(b.slice(4, 8)) && u32(h, 0) >= 8) return ["video", "video/quicktime"];
  if (first === "\x1a\x45\xdf\xa3") return ebml(h, b);
  if (first === "OggS") return ogg(h, b);
  if (b.startsWith("ID3")) return afterId3(h, b);
  if (h.length >= 4 && h[0] === 0xff) return mpegAudio(R, h);
  return null;
}

function isoMedia(R, h, b) {
  const end = Math.min(Math.max(u32(h, 0), 16), h.length);
  const major = b.slice(8, 12);
  const brands = new Set([major]);
  for (let i = 16; i < end - 3; i += 4) brands.add(b.slice(i, i + 4));
  const any = (group) => [...brands].some((brand) => group.has(brand));
  if (R.refused.has(major)) return R.refused.get(major);
  if (R.heic.has(major) || (R.heif.has(major) && any(R.heic))) return ["photo", "image/heic"];
  if (R.heif.has(major)) {
    if (brands.has("avif") || brands.has("avis")) return R.refused.get("avif");
    return ["photo", "image/heif"];
  }
  if (R.audio.has(major)) return ["audio", "audio/mp4"];
  if (R.quicktime.has(major)) return ["video", "video/quicktime"];
  if (R.gpp.has(major)) return ["video", "video/3gpp"];
  if (R.mp4.has(major) || any(R.mp4)) return ["video", "video/mp4"];
  if (any(R.quicktime)) return ["video", "video/quicktime"];
  return `an ISO media file of brand ${printable(major)}`;
}

function ebml(h, b) {
  let at = -1;
  for (let i = 4; i + 1 < Math.min(64, h.length); i += 1) {
    if (h[i] === 0x42 && h[i + 1] === 0x82) { at = i; break; }
  }
  let doctype = "";
  if (at >= 0 && at + 3 < h.length && h[at + 2] & 0x80) doctype = b.slice(at + 3, at + 3 + (h[at + 2] & 0x7f));
  if (doctype === "webm") return ["video", "video/webm"];
  if (doctype === "matroska") return "a Matroska video (video/x-matroska)";
  return "an EBML/Matroska container of unknown type";
}

function ogg(h, b) {
  if (h.length < 28) return "a truncated Ogg container";
  const packet = b.slice(27 + h[26]);
  if (packet.startsWith("OpusHead") || packet.startsWith("\x01vorbis")) return ["audio", "audio/ogg"];
  for (const [magic, name] of [["\x80theora", "an Ogg Theora video (video/ogg)"], ["\x7fFLAC", "Ogg FLAC audio"],
    ["Speex   ", "Ogg Speex audio"], ["\x80kate", "an Ogg Kate subtitle stream"]]) {
    if (packet.startsWith(magic)) return name;
  }
  return "an Ogg container with an unknown codec";
}

function afterId3(h, b) {
  if (h.length < 10) return ["audio", "audio/mpeg"];
  let size = 10 + (((h[6] & 0x7f) << 21) | ((h[7] & 0x7f) << 14) | ((h[8] & 0x7f) << 7) | (h[9] & 0x7f));
  if (h[5] & 0x10) size += 10; // footer present
  const rest = b.slice(size, size + 4);
  if (rest === "fLaC") return "FLAC audio (audio/flac)";
  if (rest.length >= 2 && rest.charCodeAt(0) === 0xff && (rest.charCodeAt(1) & 0xf6) === 0xf0) return ["audio", "audio/aac"];
  return ["audio", "audio/mpeg"];
}

function mpegAudio(R, h) {
  const [, b1, b2] = h;
  if ((b1 & 0xf6) === 0xf0) return ((b2 >> 2) & 0x0f) <= 12 ? ["audio", "audio/aac"] : null; // ADTS
  if ((b1 & 0xe0) !== 0xe0) return null;
  const version = (b1 >> 3) & 3;
  const layer = (b1 >> 1) & 3;
  const bitrateIndex = b2 >> 4;
  const rateIndex = (b2 >> 2) & 3;
  if (version === 1 || layer === 0 || bitrateIndex === 15 || rateIndex === 3) return null;
  if (layer !== 1) return null; // layers I/II are not MP3
  if (bitrateIndex) {
    const bitrate = R.bitrates[version === 3 ? "1" : "2"][bitrateIndex] * 1000;
    const rate = R.rates[String(version)][rateIndex];
    const length = Math.floor(((version === 3 ? 144 : 72) * bitrate) / rate) + ((b2 >> 1) & 1);
    const follows = h.subarray(length, length + 2);
    if (follows.length === 2 && !(follows[0] === 0xff && (follows[1] & 0xe0) === 0xe0)) return null;
  }
  return ["audio", "audio/mpeg"];
}

/** What refused bytes look like, for the message: sniff.py's magic numbers, then text. */
function describe(R, h, b) {
  if (b.startsWith("FORM") && ["AIFF", "AIFC"].includes(b.slice(8, 12))) return "AIFF audio (audio/aiff)";
  let text = null;
  if (!h.includes(0)) {
    try { text = new TextDecoder("utf-8", { fatal: true }).decode(h.subarray(0, Math.max(0, h.length - 4))); } catch { text = null; }
  }
  for (const [offset, magic, name] of R.magic) {
    if (b.slice(offset, offset + magic.length) === magic && (text === null || magic.length > 2)) return name;
  }
  if (text !== null) {
    const start = text.trimStart().toLowerCase().replace(/^(<!--[\s\S]*?-->\s*)+/, "");
    if (start.startsWith("<svg") || (start.includes("<svg") && /^(<\?xml|<!doctype svg)/.test(start))) return "an SVG image (image/svg+xml)";
    if (/^<!doctype html|<html|<head|<body|<script|<iframe|<meta|<title|<div|<img|<a |<form|<style/.test(start.slice(0, 1024))
      || /<(html|head|body|script|iframe)\b/.test(start.slice(0, 1024))) return "an HTML document (text/html)";
    if (start.startsWith("<?xml")) return "an XML document (application/xml)";
    return "plain text (text/plain)";
  }
  return null;
}

/**
 * The server's verdict on a file of `size` bytes starting with `head` (Uint8Array):
 * {ok: true, kind, type} or {ok: false, code, detected?, kind?, limit?}; codes as the server's
 * (empty_file, upload_too_large, type_not_allowed, too_large_for_kind). Without rules: ok.
 */
export function judge(head, size, given = null) {
  const R = loadRules(given);
  if (!R) return { ok: true, kind: null, type: "" };
  if (size > R.limits.upload) return { ok: false, code: "upload_too_large", limit: R.limits.upload };
  if (size === 0) return { ok: false, code: "empty_file" };
  const h = head.subarray(0, R.head);
  let b = "";
  for (let i = 0; i < h.length; i += 4096) b += String.fromCharCode(...h.subarray(i, i + 4096));
  const found = accepted(R, h, b);
  if (found === null) return { ok: false, code: "type_not_allowed", detected: describe(R, h, b) };
  if (typeof found === "string") return { ok: false, code: "type_not_allowed", detected: found };
  const [kind, type] = found;
  if (size > R.limits[kind]) return { ok: false, code: "too_large_for_kind", kind, limit: R.limits[kind] };
  return { ok: true, kind, type };
}

/** judge() on a File or Blob: only its first bytes are read. */
export async function check(file) {
  const R = loadRules();
  if (!R) return judge(new Uint8Array(0), file.size);
  return judge(new Uint8Array(await file.slice(0, R.head).arrayBuffer()), file.size);
}

/** The limits and the accepted formats, for messages. */
export function limits() {
  return loadRules();
}
