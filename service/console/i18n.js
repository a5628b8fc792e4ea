// Message catalogues (messages.<lang>.json) and locale-aware formatting with Intl.
// Every string the operator reads comes from a catalogue; the page's HTML carries only keys.

export const LANGUAGES = { en: "English", vi: "Tiếng Việt" };
const FALLBACK = "en";
const LOCALES = { en: "en-GB", vi: "vi-VN" };
let lang = FALLBACK;
let messages = {};
let fallback = {};

async function loadCatalogue(code) {
  const response = await fetch(`/console/messages.${code}.json`, { cache: "no-cache" });
  if (!response.ok) throw new Error(`no catalogue for ${code}`);
  return response.json();
}

export function currentLanguage() {
  return lang;
}

export function locale() {
  return LOCALES[lang] || lang;
}

// The language stored for this user (per API key), else the last one used, else the browser's.
export function preferredLanguage(userId) {
  const stored = (userId && localStorage.getItem(`triage.lang.${userId}`)) || localStorage.getItem("triage.lang");
  if (stored && LANGUAGES[stored]) return stored;
  const browser = (navigator.language || "en").slice(0, 2).toLowerCase();
  return LANGUAGES[browser] ? browser : FALLBACK;
}

export function rememberLanguage(code, userId) {
  localStorage.setItem("triage.lang", code);
  if (userId) localStorage.setItem(`triage.lang.${userId}`, code);
}

export async function setLanguage(code) {
  if (!LANGUAGES[code]) code = FALLBACK;
  if (!Object.keys(fallback).length) fallback = await loadCatalogue(FALLBACK);
  messages = code === FALLBACK ? fallback : await loadCatalogue(code);
  lang = code;
  document.documentElement.lang = code;
  applyTranslations(document);
}

// t("cameras.frames", {n: 3}) — "{name}" placeholders; "{n, plural}" picks key.one / key.other by Intl.PluralRules.
export function t(key, vars = {}) {
  let text = messages[key] ?? fallback[key];
  if (text === undefined && "n" in vars) {
    const form = new Intl.PluralRules(locale()).select(vars.n);
    text = messages[`${key}.${form}`] ?? messages[`${key}.other`] ?? fallback[`${key}.${form}`] ?? fallback[`${key}.other`];
  }
  if (text === undefined) return key;
  return text.replace(/\{(\w+)\}/g, (match, name) => {
    if (!(name in vars)) return match;
    const value = vars[name];
    return typeof value === "number" ? number(value) : String(value);
  });
}

export function applyTranslations(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  document.title = t("app.title");
}

export function number(value, digits) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  const options = digits === undefined ? { maximumFractionDigits: 3 } : { minimumFractionDigits: digits, maximumFractionDigits: digits };
  return new Intl.NumberFormat(locale(), options).format(value);
}

export function percent(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return new Intl.NumberFormat(locale(), { style: "percent", minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
}

export function dateTime(value) {
  if (!value) return "—";
  return new Intl.DateTimeFormat(locale(), { dateStyle: "short", timeStyle: "medium" }).format(new Date(value));
}

export function time(value) {
  if (!value) return "—";
  return new Intl.DateTimeFormat(locale(), { timeStyle: "medium" }).format(new Date(value));
}

export function duration(seconds) {
  const unit = seconds >= 60 ? "minute" : "second";
  const amount = unit === "minute" ? seconds / 60 : seconds;
  return new Intl.NumberFormat(locale(), { style: "unit", unit, unitDisplay: "short", maximumFractionDigits: 1 }).format(amount);
}

export function ago(value) {
  if (!value) return "—";
  const seconds = Math.round((new Date(value).getTime() - Date.now()) / 1000);
  const format = new Intl.RelativeTimeFormat(locale(), { numeric: "auto" });
  const abs = Math.abs(seconds);
  if (abs < 60) return format.format(seconds, "second");
  if (abs < 3600) return format.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return format.format(Math.round(seconds / 3600), "hour");
  return format.format(Math.round(seconds / 86400), "day");
}

// A class name from the model ("firearm_part") in the operator's language; unknown names are shown as given.
export function className(label) {
  const key = `class.${label}`;
  const text = t(key);
  return text === key ? label : text;
}
