// Models page: every version in the registry side by side with the metrics from its card; promote and roll
// back (admin keys only).
import { ApiError, getJson, sendJson } from "/console/api.js";
import { ask, can, errorText, toast } from "/console/app.js";
import { dateTime, number, percent, t } from "/console/i18n.js";
import * as stations from "/console/stations.js";

const $ = (id) => document.getElementById(id);
let models = [];

// Card fields shown first, in this order: [label (message key, or a function giving the text), getter,
// formatter, higher is better?]
const HEADLINE = [
  ["models.threshold", (c) => c.threshold, (v) => number(v, 3), null],
  ...["parcel", "luggage", "vehicle"].map((kind) => [
    () => t("models.thresholdFor", { kind: t(`metric.${kind}`) }),
    (c) => c.kind_thresholds?.[kind],
    (v) => number(v, 3),
    null,
  ]),
  ["models.calibratedFar", (c) => c.calibration?.false_alarm_rate, (v) => percent(v, 1), null],
  ["models.calibrationDr", (c) => c.calibration?.detection_rate_on_calibration, (v) => percent(v, 1), true],
  ["models.inputSize", (c) => c.input_size, (v) => number(v, 0), null],
  ["models.parameters", (c) => c.architecture?.parameters, (v) => number(v, 0), null],
  ["models.created", (c) => c.created, (v) => dateTime(v), null],
];
// Metric names whose direction is known; the others are shown without a "best" mark.
const LOWER_IS_BETTER = new Set(["false_alarm_rate", "held_out_drop", "auroc_drop"]);
const RATES = /(^auroc$|rate|^dr_at_far|recall|ap50)/;

export function init() {}

export function relabel() {
  if (models.length) render();
  stations.relabel();
}

export async function enter() {
  try {
    models = inViewOrder(await getJson("/v1/models"));
  } catch (error) {
    toast(errorText(error), "error");
    models = [];
  }
  render();
  await stations.enter();
}

export function leave() {}

// Numeric leaves of card.metrics.summary as [path, value], e.g. ["test · all · auroc", 0.97].
function metricRows(card) {
  const out = [];
  const walk = (value, path) => {
    if (typeof value === "number") out.push([path, value]);
    else if (value && typeof value === "object" && !Array.isArray(value) && path.length < 4) {
      for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
    }
  };
  walk(card?.metrics?.summary ?? card?.metrics ?? {}, []);
  return out;
}

function metricLabel(path) {
  return path.map((part) => {
    const key = `metric.${part}`;
    const text = t(key);
    return text === key ? part : text;
  }).join(" · ");
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function rowOf(label, values, format, higherBetter) {
  const tr = document.createElement("tr");
  const th = document.createElement("th");
  th.scope = "row";
  th.textContent = label;
  tr.append(th);
  const numbers = values.filter((v) => typeof v === "number");
  let best = null;
  if (higherBetter !== null && numbers.length > 1 && new Set(numbers).size > 1) {
    best = higherBetter ? Math.max(...numbers) : Math.min(...numbers);
  }
  for (const v of values) {
    const missing = v === undefined || v === null;
    tr.append(cell(missing ? "—" : format(v), !missing && v === best ? "best" : ""));
  }
  return tr;
}

// The serving model first, then the others newest first: with many versions the table scrolls, and the
// model that judges scans now must be in view (at 1366x768 too) without scrolling.
function inViewOrder(list) {
  const byVersion = (a, b) => b.version.localeCompare(a.version, undefined, { numeric: true });
  return [...list.filter((m) => m.serving), ...list.filter((m) => !m.serving).sort(byVersion)];
}

// The newest version older than the serving one (same name): the target of "roll back".
function rollbackTarget() {
  const serving = models.find((m) => m.serving);
  if (!serving) return null;
  const older = models.filter((m) => m.name === serving.name && m !== serving && !m.card?.error)
    .filter((m) => m.version.localeCompare(serving.version, undefined, { numeric: true }) < 0)
    .sort((a, b) => b.version.localeCompare(a.version, undefined, { numeric: true }));
  return older[0] || null;
}

function render() {
  const table = $("models-table");
  $("models-empty").hidden = models.length > 0;
  $("models-note").textContent = can("admin") ? "" : t("models.adminOnly");
  if (!models.length) {
    table.replaceChildren();
    return;
  }
  const head = document.createElement("thead");
  const headRow = document.createElement("tr");
  headRow.append(cell("", "corner"));
  const back = rollbackTarget();
  for (const m of models) {
    const th = document.createElement("th");
    th.scope = "col";
    th.dataset.model = `${m.name}/${m.version}`;
    const title = document.createElement("div");
    title.className = "model-name";
    title.textContent = `${m.name} ${m.version}`;
    const badges = document.createElement("div");
    badges.className = "badges";
    if (m.serving) badges.append(badge(t("models.serving"), "serving"));
    if (m.promoted) badges.append(badge(t("models.promoted"), "promoted"));
    if (m.card?.error) badges.append(badge(t("models.broken"), "broken"));
    th.append(title, badges);
    if (can("admin") && !m.serving) {
      const button = document.createElement("button");
      const isBack = back === m;
      button.className = isBack ? "rollback" : "promote";
      button.textContent = isBack ? t("models.rollback") : t("models.promote");
      button.addEventListener("click", () => promote(m, isBack));
      th.append(button);
    }
    headRow.append(th);
  }
  head.append(headRow);
  const body = document.createElement("tbody");
  for (const [label, get, format, better] of HEADLINE) {
    const values = models.map((m) => get(m.card || {}));
    if (values.every((v) => v === undefined || v === null)) continue;
    body.append(rowOf(typeof label === "function" ? label() : t(label), values, format, better));
  }
  const paths = new Map();
  for (const m of models) for (const [path] of metricRows(m.card)) paths.set(path.join("/"), path);
  if (paths.size) {
    const tr = document.createElement("tr");
    tr.className = "group";
    const th = document.createElement("th");
    th.colSpan = models.length + 1;
    th.textContent = t("models.metrics");
    tr.append(th);
    body.append(tr);
  }
  for (const [joined, path] of paths) {
    const leaf = path.at(-1);
    const values = models.map((m) => {
      const found = metricRows(m.card).find(([p]) => p.join("/") === joined);
      return found ? found[1] : null;
    });
    const isRate = RATES.test(leaf);
    const better = isRate ? !LOWER_IS_BETTER.has(leaf) : LOWER_IS_BETTER.has(leaf) ? false : null;
    body.append(rowOf(metricLabel(path), values, (v) => (isRate ? percent(v, 1) : number(v)), better));
  }
  table.replaceChildren(head, body);
}

function badge(text, kind) {
  const span = document.createElement("span");
  span.className = `badge ${kind}`;
  span.textContent = text;
  return span;
}

async function promote(model, isRollback) {
  const label = `${model.name} ${model.version}`;
  const question = isRollback ? t("models.askRollback", { model: label }) : t("models.askPromote", { model: label });
  if (!(await ask(question))) return;
  const path = `/v1/models/${encodeURIComponent(model.name)}/${encodeURIComponent(model.version)}/promote`;
  try {
    let result;
    try {
      result = await sendJson("POST", path);
    } catch (error) {
      // 409: the gate against the served model did not pass. An admin may still force it, with a reason
      // that the service records in the model history and its log.
      if (!(error instanceof ApiError) || error.status !== 409) throw error;
      const reason = await ask(t("models.askForce", { model: label, detail: error.message }), {
        input: t("models.reasonPlaceholder"),
      });
      if (!reason) return;
      result = await sendJson("POST", path, { force: true, reason });
    }
    toast(t("models.nowServing", { model: `${result.serving.name} ${result.serving.version}` }), "ok");
  } catch (error) {
    toast(errorText(error), "error");
  } finally {
    await enter();
  }
}
