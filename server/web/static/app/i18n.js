// Interface strings and formats in the chosen language. Each language is one JSON made on the
// server from the gettext catalogs and CLDR (/app/i18n/<lang>.json, kept by the service worker),
// so dates, numbers and plurals never depend on the browser knowing Kazakh or Uzbek.
export const LANGUAGES = ["kk", "ru", "en", "uz"];
const KEY = "adal.lang";
const loaded = {};
let current = pickInitial();
let data = { strings: {}, plurals: {}, months: { abbr: [], wide: [] }, patterns: {}, number: {} };

function pickInitial() {
  let saved = null;
  try { saved = localStorage.getItem(KEY); } catch { /* private mode: not remembered */ }
  if (LANGUAGES.includes(saved)) return saved;
  const browser = (navigator.languages || []).map((l) => l.slice(0, 2)).find((l) => LANGUAGES.includes(l));
  return browser || document.documentElement.dataset.defaultLanguage || "ru";
}

async function load(code) {
  if (!loaded[code]) {
    loaded[code] = fetch(`/app/i18n/${code}.json`, { credentials: "omit" }).then((response) => {
      if (!response.ok) throw new Error(`strings ${code}: ${response.status}`);
      return response.json();
    }).catch((error) => { delete loaded[code]; throw error; });
  }
  return loaded[code];
}

export function lang() {
  return current;
}

/** Whether the inspector chose a language on this phone (else the account's may be used). */
export function chosen() {
  try { return LANGUAGES.includes(localStorage.getItem(KEY)); } catch { return false; }
}

/** Switch to `code` once its strings are here; the screens are drawn again by the caller. */
export async function setLang(code, { remember = true } = {}) {
  if (!LANGUAGES.includes(code)) return;
  data = await load(code);
  current = code;
  document.documentElement.lang = code;
  if (remember) {
    try { localStorage.setItem(KEY, code); } catch { /* not remembered, still used */ }
  }
}

/** Load the first language before the first screen is drawn. */
export function ready() {
  return setLang(current, { remember: false });
}

function fill(text, params) {
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

/** The interface string `key`, with {name} placeholders filled. */
export function t(key, params = {}) {
  const text = data.strings[key];
  return fill(text === undefined ? key : text, params);
}

/** Whether the interface has a string `key`. */
export function has(key) {
  return Object.prototype.hasOwnProperty.call(data.strings, key);
}

/** The gettext plural form that the count `n` takes in `code` (the catalogs' Plural-Forms). */
export function pluralIndex(code, n) {
  if (code === "ru") {
    if (n % 10 === 1 && n % 100 !== 11) return 0;
    if (n % 10 >= 2 && n % 10 <= 4 && (n % 100 < 10 || n % 100 >= 20)) return 1;
    return 2;
  }
  return n === 1 ? 0 : 1; // en, kk, uz
}

/** The plural string `key` for the count `n` ("1 проверка, 2 проверки, 5 проверок"). */
export function tn(key, n, params = {}) {
  const forms = data.plurals[key];
  if (!forms) return key;
  return fill(forms[Math.min(pluralIndex(current, n), forms.length - 1)], { ...params, n: formatNumber(n) });
}

/** A label from the form definition ({lang: text}) in the chosen language. */
export function label(texts) {
  if (!texts) return "";
  if (typeof texts === "string") return texts;
  return texts[current] ?? texts.en ?? texts.ru ?? Object.values(texts)[0] ?? "";
}

const pad = (n) => String(n).padStart(2, "0");

/** Write a date with a CLDR pattern (the letters Adal's patterns use: y, M, d, H, m, quotes). */
function pattern(text, date) {
  let out = "";
  const re = /'([^']*)'|(y+|M+|L+|d+|H+|m+)|([^'yMLdHm]+)/g;
  for (const [, quoted, field, literal] of text.matchAll(re)) {
    if (quoted !== undefined) out += quoted || "'";
    else if (literal !== undefined) out += literal;
    else if (field[0] === "y") out += date.getFullYear();
    else if (field[0] === "M" || field[0] === "L") {
      out += field.length >= 4 ? data.months.wide[date.getMonth()]
        : field.length === 3 ? data.months.abbr[date.getMonth()]
          : field.length === 2 ? pad(date.getMonth() + 1) : date.getMonth() + 1;
    } else if (field[0] === "d") out += field.length === 2 ? pad(date.getDate()) : date.getDate();
    else if (field[0] === "H") out += field.length === 2 ? pad(date.getHours()) : date.getHours();
    else out += pad(date.getMinutes());
  }
  return out;
}

export function formatTime(iso) {
  return iso ? pattern(data.patterns.time || "HH:mm", new Date(iso)) : "";
}

export function formatDate(iso) {
  return iso ? pattern(data.patterns.date || "d MMM", new Date(iso)) : "";
}

export function formatDateTime(iso) {
  return iso ? `${formatDate(iso)} ${formatTime(iso)}` : "";
}

/** A number with the language's decimal sign and digit grouping ("1 234,5" in ru). */
export function formatNumber(value, digits = null) {
  const text = digits === null ? String(value) : Number(value).toFixed(digits);
  const [whole, fraction] = text.replace("-", "").split(".");
  const grouped = whole.length > 3 ? whole.replace(/\B(?=(\d{3})+(?!\d))/g, data.number.group || ",") : whole;
  return (Number(value) < 0 ? "-" : "") + grouped + (fraction ? (data.number.decimal || ".") + fraction : "");
}
