// Evidence on a question: photo, video or audio taken straight from the question (the phone's
// camera through <input capture>, MediaRecorder for audio), or picked from the files. Each file is
// hashed on the phone and written to IndexedDB before the visit cites it.

import { h, uid } from "./dom.js";
import { t } from "./i18n.js";
import { sha256OfBlob } from "./sha256.js";

const ACCEPT = { photo: "image/*", video: "video/*", audio: "audio/*" };
const EXTENSIONS = { photo: /\.(jpe?g|png|heic|heif|webp)$/i, video: /\.(mp4|mov|webm|m4v)$/i, audio: /\.(m4a|aac|mp3|ogg|opus|wav|webm)$/i };
const urls = new Map(); // media id -> object URL

/** photo, video or audio, from the type the browser reports or else the file name. */
export function kindOf(file) {
  const type = file.type || "";
  if (type.startsWith("image/")) return "photo";
  if (type.startsWith("video/")) return "video";
  if (type.startsWith("audio/")) return "audio";
  return Object.keys(EXTENSIONS).find((kind) => EXTENSIONS[kind].test(file.name || "")) || "photo";
}

export function newId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = Array.from(b, (v) => v.toString(16).padStart(2, "0")).join("");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/**
 * The kind to show: what the bytes are (`sniffed`, from sniff.js) wins over the name and the type
 * the browser reports, except that a video container the browser calls audio (a recording in
 * WebM or MP4 without a picture) stays audio.
 */
export function kindFor(file, sniffed = null) {
  const guess = kindOf(file);
  if (!sniffed) return guess;
  return sniffed === "video" && guess === "audio" ? "audio" : sniffed;
}

/** A media record for `file`, hashed; not yet stored. `kind`: what its bytes were found to be. */
export async function prepare(file, { visit, question, kind = null }) {
  const sha256 = await sha256OfBlob(file);
  const shown = kindFor(file, kind);
  return {
    id: newId(), visit, question, kind: shown, name: file.name || `${shown}-${Date.now()}`,
    type: file.type || "", size: file.size, blob: file, sha256, upload_url: null, offset: 0, done: false,
    created_at: new Date().toISOString(),
  };
}

export function urlOf(media) {
  if (!media.blob) return null;
  if (!urls.has(media.id)) urls.set(media.id, URL.createObjectURL(media.blob));
  return urls.get(media.id);
}

export function releaseUrls() {
  for (const url of urls.values()) URL.revokeObjectURL(url);
  urls.clear();
}

function preview(media) {
  const src = urlOf(media);
  if (!src) return h("span", { class: "thumb placeholder", "aria-hidden": "true" }, media.kind === "photo" ? "▣" : "▶");
  if (media.kind === "photo") return h("img", { class: "thumb", src, alt: media.name });
  if (media.kind === "video") return h("video", { class: "thumb", src, controls: true, muted: true, preload: "metadata", "aria-label": media.name });
  return h("audio", { src, controls: true, preload: "metadata", "aria-label": media.name });
}

const size = (bytes) => (bytes >= 1048576 ? `${(bytes / 1048576).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1024))} KB`);

/** The list of attached files with previews, upload state and a remove button. */
export function mediaList(items, { editable, onRemove, progressOf }) {
  return h("ul", { class: "media" }, items.map((m) => {
    const uploaded = m.done || m.remote;
    const sent = progressOf ? progressOf(m) : null;
    return h("li", { class: "media-item", dataset: { media: m.id, sha: m.sha256 || "" } },
      preview(m),
      h("span", { class: "media-meta" },
        h("span", { class: "media-name" }, m.name || (m.sha256 || "").slice(0, 12)),
        h("span", { class: "muted" }, m.size ? size(m.size) : "", uploaded ? ` · ${t("uploaded")}` : ""),
        sent && !uploaded ? h("progress", { max: m.size, value: sent, "aria-label": m.name }) : null),
      editable && !m.remote ? h("button", { type: "button", class: "link danger", onclick: () => onRemove(m) }, t("remove")) : null);
  }));
}

/** Buttons that take or pick evidence of `kinds` and hand the files to `onFiles`. */
export function captureButtons(kinds, { onFiles, qid }) {
  const buttons = [];
  const input = (text, accept, capture, multiple = false) => {
    const id = uid(`file-${qid}`);
    return h("span", { class: "file-button" },
      h("input", { type: "file", id, accept, capture, multiple, class: "visually-hidden",
        onchange: (event) => {
          const files = [...event.target.files];
          event.target.value = "";
          if (files.length) onFiles(files);
        } }),
      h("label", { for: id, class: "button secondary" }, text));
  };
  if (kinds.includes("photo")) buttons.push(input(t("take_photo"), ACCEPT.photo, "environment"));
  if (kinds.includes("video")) buttons.push(input(t("record_video"), ACCEPT.video, "environment"));
  if (kinds.includes("audio")) buttons.push(audioButton(onFiles, (text) => input(text, ACCEPT.audio, "user")));
  buttons.push(input(t("from_gallery"), kinds.map((k) => ACCEPT[k]).join(","), undefined, true));
  return h("div", { class: "capture" }, buttons);
}

function audioButton(onFiles, fallback) {
  if (!window.MediaRecorder || !navigator.mediaDevices?.getUserMedia) return fallback(t("record_audio"));
  let recorder = null;
  const button = h("button", { type: "button", class: "button secondary", "aria-pressed": "false" }, t("record_audio"));
  button.addEventListener("click", async () => {
    if (recorder) {
      recorder.stop();
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch {
      return; // refused: the inspector can still pick a file or explain in the note
    }
    const parts = [];
    recorder = new MediaRecorder(stream);
    recorder.ondataavailable = (event) => parts.push(event.data);
    recorder.onstop = () => {
      stream.getTracks().forEach((track) => track.stop());
      const type = recorder.mimeType || "audio/webm";
      recorder = null;
      button.textContent = t("record_audio");
      button.setAttribute("aria-pressed", "false");
      const ext = type.includes("mp4") ? "m4a" : type.includes("ogg") ? "ogg" : "webm";
      onFiles([new File(parts, `audio-${new Date().toISOString().replace(/[:.]/g, "-")}.${ext}`, { type })]);
    };
    recorder.start();
    button.textContent = t("stop_recording");
    button.setAttribute("aria-pressed", "true");
  });
  return button;
}
