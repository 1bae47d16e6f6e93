// Interface strings (from server/web/i18n.py, embedded in the shell) and the chosen language.
export const LANGUAGES = ["kk", "ru", "en", "uz"];
const LOCALES = { kk: "kk-KZ", ru: "ru-RU", en: "en-GB", uz: "uz-Latn-UZ" };
const KEY = "adal.lang";
const strings = JSON.parse(document.getElementById("app-strings").textContent);
let current = pickInitial();

function pickInitial() {
  let saved = null;
  try { saved = localStorage.getItem(KEY); } catch { /* private mode: not remembered */ }
  if (LANGUAGES.includes(saved)) return saved;
  const browser = (navigator.languages || []).map((l) => l.slice(0, 2)).find((l) => LANGUAGES.includes(l));
  return browser || document.documentElement.dataset.defaultLanguage || "ru";
}

export function lang() {
  return current;
}

/** Whether the inspector chose a language on this phone (else the account's may be used). */
export function chosen() {
  try { return LANGUAGES.includes(localStorage.getItem(KEY)); } catch { return false; }
}

export function setLang(code, { remember = true } = {}) {
  if (!LANGUAGES.includes(code)) return;
  current = code;
  document.documentElement.lang = code;
  if (remember) {
    try { localStorage.setItem(KEY, code); } catch { /* not remembered, still used */ }
  }
}
setLang(current, { remember: false });

/** The interface string `key`, with {name} placeholders filled. */
export function t(key, params = {}) {
  const entry = strings[key];
  const text = entry ? entry[current] || entry.en : key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

/** A label from the form definition ({lang: text}) in the chosen language. */
export function label(texts) {
  if (!texts) return "";
  if (typeof texts === "string") return texts;
  return texts[current] ?? texts.en ?? texts.ru ?? Object.values(texts)[0] ?? "";
}

export function formatTime(iso) {
  if (!iso) return "";
  return new Intl.DateTimeFormat(LOCALES[current], { hour: "2-digit", minute: "2-digit" }).format(new Date(iso));
}

export function formatDate(iso) {
  if (!iso) return "";
  return new Intl.DateTimeFormat(LOCALES[current], { day: "numeric", month: "short" }).format(new Date(iso));
}

export function formatDateTime(iso) {
  return iso ? `${formatDate(iso)} ${formatTime(iso)}` : "";
}
