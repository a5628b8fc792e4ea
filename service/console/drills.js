// Drills page (admin keys): operator drills per station (on/off, how often, which threats, which kinds)
// and the report of how operators did, per week, station and operator, with a CSV download.
import { getJson, headers, sendJson } from "/console/api.js";
import { can, errorText, toast } from "/console/app.js";
import { className, dateTime, number, percent, t } from "/console/i18n.js";

const $ = (id) => document.getElementById(id);
const KINDS = ["luggage", "parcel", "vehicle"];
let settings = { items: [], library: {} };
let rows = [];

export function init() {
  $("drill-form").addEventListener("submit", (event) => {
    event.preventDefault();
    save();
  });
  $("drill-csv").addEventListener("click", downloadCsv);
}

export async function enter() {
  $("drills-denied").hidden = can("admin");
  $("drills-body").hidden = !can("admin");
  if (!can("admin")) return;
  try {
    [settings, { items: rows }] = await Promise.all([getJson("/v1/drills/settings"), getJson("/v1/drills/report")]);
  } catch (error) {
    toast(errorText(error), "error");
  }
  render();
}

export function relabel() {
  if (!$("page-drills").hidden && can("admin")) render();
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function head(keys) {
  const thead = document.createElement("thead");
  const tr = document.createElement("tr");
  for (const key of keys) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = key ? t(`drills.${key}`) : "";
    tr.append(th);
  }
  thead.append(tr);
  return thead;
}

function oneIn(rate) {
  return Math.max(1, Math.round(1 / rate));
}

function render() {
  const body = document.createElement("tbody");
  for (const s of settings.items) {
    const tr = document.createElement("tr");
    tr.dataset.station = s.station;
    tr.append(
      cell(s.station === "*" ? t("drills.everyStation") : s.station),
      cell(s.enabled ? t("drills.on") : t("drills.off")),
      cell(t("drills.oneIn", { n: oneIn(s.rate) })),
      cell(s.classes.length ? s.classes.map(className).join(", ") : t("drills.all")),
      cell(s.kinds.length ? s.kinds.map((k) => t(`metric.${k}`)).join(", ") : t("drills.all")),
      cell(s.updated ? dateTime(s.updated) : "—"),
    );
    const edit = document.createElement("button");
    edit.className = "small";
    edit.textContent = t("drills.edit");
    edit.addEventListener("click", () => fill(s));
    const td = document.createElement("td");
    td.append(edit);
    tr.append(td);
    body.append(tr);
  }
  $("drill-settings").replaceChildren(head(["station", "state", "rate", "classes", "kinds", "updated", ""]), body);
  const classes = $("drill-classes");
  if (classes.children.length !== Object.keys(settings.library).length) {
    classes.replaceChildren(...Object.entries(settings.library).map(([label, n]) => checkbox("class", label, `${className(label)} (${n})`)));
    $("drill-kinds").replaceChildren(...KINDS.map((k) => checkbox("kind", k, t(`metric.${k}`))));
  }
  renderReport();
}

function checkbox(name, value, text) {
  const label = document.createElement("label");
  label.className = "check";
  const input = document.createElement("input");
  input.type = "checkbox";
  input.name = name;
  input.value = value;
  label.append(input, ` ${text}`);
  return label;
}

function fill(s) {
  $("drill-station").value = s.station;
  $("drill-enabled").checked = s.enabled;
  $("drill-one-in").value = oneIn(s.rate);
  for (const box of document.querySelectorAll('#drill-classes input')) box.checked = s.classes.includes(box.value);
  for (const box of document.querySelectorAll('#drill-kinds input')) box.checked = s.kinds.includes(box.value);
  $("drill-station").focus();
}

async function save() {
  const station = $("drill-station").value.trim() || "*";
  const n = Number($("drill-one-in").value);
  const body = {
    enabled: $("drill-enabled").checked,
    rate: n >= 1 ? 1 / n : 0,
    classes: [...document.querySelectorAll("#drill-classes input:checked")].map((b) => b.value),
    kinds: [...document.querySelectorAll("#drill-kinds input:checked")].map((b) => b.value),
  };
  try {
    await sendJson("PUT", `/v1/drills/settings/${encodeURIComponent(station)}`, body);
    toast(t("drills.saved", { station: station === "*" ? t("drills.everyStation") : station }), "ok");
    settings = await getJson("/v1/drills/settings");
    render();
  } catch (error) {
    toast(errorText(error), "error");
  }
}

function renderReport() {
  $("drill-report-empty").hidden = rows.length > 0;
  const body = document.createElement("tbody");
  for (const r of rows) {
    const tr = document.createElement("tr");
    tr.dataset.operator = r.operator || "";
    tr.dataset.station = r.station || "";
    const worst = Object.entries(r.by_class).filter(([, c]) => c.drills).sort((a, b) => a[1].hit_rate - b[1].hit_rate)[0];
    tr.append(
      cell(r.week),
      cell(r.station || "—"),
      cell(r.operator || r.key_id || "—"),
      cell(number(r.drills, 0), "num drills"),
      cell(number(r.hits, 0), "num hits"),
      cell(number(r.misses, 0), "num misses"),
      cell(r.hit_rate === null ? "—" : percent(r.hit_rate), "num"),
      cell(worst ? `${className(worst[0])} ${percent(worst[1].hit_rate)}` : "—"),
      cell(r.mean_decision_s === null ? "—" : `${number(r.mean_decision_s, 1)} s`, "num"),
      cell(r.real_decided ? `${number(r.real_flagged, 0)} / ${number(r.real_decided, 0)}` : "—", "num"),
    );
    body.append(tr);
  }
  $("drill-report").replaceChildren(
    head(["week", "station", "operator", "drills", "hits", "misses", "hitRate", "weakest", "decision", "realFlagged"]),
    body,
  );
}

async function downloadCsv() {
  try {
    const answer = await fetch("/v1/drills/report?format=csv", { headers: headers() });
    if (!answer.ok) throw new Error(String(answer.status));
    const url = URL.createObjectURL(await answer.blob());
    const link = document.createElement("a");
    link.href = url;
    link.download = "drills.csv";
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (error) {
    toast(errorText(error), "error");
  }
}
