// The console shell: sign-in, navigation between pages, language switch, toasts and the confirm dialog.
import { ApiError, getJson, storeKey, storedKey } from "/console/api.js";
import { LANGUAGES, applyTranslations, currentLanguage, preferredLanguage, rememberLanguage, setLanguage, t } from "/console/i18n.js";
import * as scans from "/console/scans.js";
import * as cameras from "/console/cameras.js";
import * as models from "/console/models.js";
import * as drills from "/console/drills.js";

const $ = (id) => document.getElementById(id);
const PAGES = { scans, cameras, models, drills };
export const session = { me: null, page: null };

export function can(scope) {
  const scopes = session.me?.scopes || [];
  return scopes.includes("admin") || scopes.includes(scope);
}

let toastTimer = null;
export function toast(text, kind = "info") {
  const el = $("toast");
  el.textContent = text;
  el.dataset.kind = kind;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, kind === "error" ? 6000 : 3000);
}

export function errorText(error) {
  if (error instanceof ApiError) {
    const known = { 401: "error.401", 403: "error.403", 404: "error.404", 409: "error.409", 413: "error.413", 415: "error.415", 503: "error.503" };
    const lead = known[error.status] ? t(known[error.status]) : t("error.status", { status: error.status });
    return `${lead} (${error.message})`;
  }
  return t("error.network");
}

// A yes/no dialog in the page (translated), resolving to true on OK.
export function ask(text, { input = null } = {}) {
  // A yes/no question; with `input` (a placeholder) it also asks for a line of text and resolves to
  // that text (OK is enabled only once something is typed) or false.
  return new Promise((resolve) => {
    const field = $("modal-input");
    $("modal-text").textContent = text;
    field.hidden = input === null;
    field.value = "";
    field.placeholder = input ?? "";
    $("modal-ok").disabled = input !== null;
    field.oninput = () => { $("modal-ok").disabled = !field.value.trim(); };
    $("modal").hidden = false;
    (input === null ? $("modal-ok") : field).focus();
    const done = (answer) => {
      $("modal").hidden = true;
      $("modal-ok").onclick = $("modal-cancel").onclick = field.oninput = null;
      $("modal-ok").disabled = false;
      document.removeEventListener("keydown", onKey, true);
      resolve(answer && input !== null ? field.value.trim() : answer);
    };
    const onKey = (event) => {
      if (event.key === "Escape") { event.stopPropagation(); done(false); }
    };
    document.addEventListener("keydown", onKey, true);
    $("modal-ok").onclick = () => done(true);
    $("modal-cancel").onclick = () => done(false);
  });
}

// A picture at full size over everything; a click or Esc closes it.
export function showLarge(src, caption) {
  $("lightbox-img").src = src;
  $("lightbox-text").textContent = caption;
  $("lightbox").hidden = false;
}

function fillLanguageSelects() {
  for (const select of document.querySelectorAll(".lang-select")) {
    select.replaceChildren(...Object.entries(LANGUAGES).map(([code, name]) => new Option(name, code)));
    select.value = currentLanguage();
    select.onchange = async () => {
      rememberLanguage(select.value, session.me?.key_id);
      await setLanguage(select.value);
      fillLanguageSelects();
      refreshTexts();
    };
  }
}

function refreshTexts() {
  if (session.me) $("who").textContent = t("signin.as", { name: session.me.name });
  for (const page of Object.values(PAGES)) page.relabel?.();
}

async function signIn(key) {
  storeKey(key);
  try {
    session.me = await getJson("/v1/me");
  } catch (error) {
    storeKey(null);
    session.me = null;
    throw error;
  }
  const lang = preferredLanguage(session.me.key_id);
  if (lang !== currentLanguage()) await setLanguage(lang);
  fillLanguageSelects();
  $("signin").hidden = true;
  $("app").hidden = false;
  $("nav-cameras").hidden = !can("camera");
  $("nav-drills").hidden = !can("admin");
  refreshTexts();
  route();
}

function signOut() {
  for (const page of Object.values(PAGES)) page.leave?.();
  session.page = null;
  session.me = null;
  storeKey(null);
  $("app").hidden = true;
  $("signin").hidden = false;
  $("signin-key").value = "";
  $("signin-key").focus();
}

function route() {
  if (!session.me) return;
  let name = location.hash.slice(1) || "scans";
  if (!PAGES[name]) name = "scans";
  if (session.page === name) return;
  if (session.page) PAGES[session.page].leave?.();
  session.page = name;
  for (const key of Object.keys(PAGES)) {
    $(`page-${key}`).hidden = key !== name;
    $(`nav-${key}`).classList.toggle("active", key === name);
  }
  PAGES[name].enter();
}

async function start() {
  await setLanguage(preferredLanguage(null));
  fillLanguageSelects();
  for (const page of Object.values(PAGES)) page.init?.();
  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("signin-error").hidden = true;
    try {
      await signIn($("signin-key").value.trim());
    } catch (error) {
      $("signin-error").textContent = error instanceof ApiError && error.status === 401 ? t("signin.bad") : errorText(error);
      $("signin-error").hidden = false;
    }
  });
  $("signout").addEventListener("click", signOut);
  $("lightbox").addEventListener("click", () => { $("lightbox").hidden = true; });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("lightbox").hidden) {
      event.stopPropagation();
      $("lightbox").hidden = true;
    }
  }, true);
  window.addEventListener("triage:unauthorised", () => {
    if (!session.me) return;
    signOut();
    $("signin-error").textContent = t("signin.bad");
    $("signin-error").hidden = false;
  });
  window.addEventListener("hashchange", route);
  const key = storedKey();
  if (key) {
    try {
      await signIn(key);
      return;
    } catch {
      // the stored key no longer works: ask again
    }
  }
  $("signin").hidden = false;
  $("signin-key").focus();
  applyTranslations(document);
}

start();
