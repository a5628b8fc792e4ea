// Station thresholds (models page, admin keys only): each station's threshold and where it comes from, its
// recent alarm rate against its target, a proposal from its cleared scans to apply, and rollback.
import { getJson, sendJson } from "/console/api.js";
import { ask, can, errorText, toast } from "/console/app.js";
import { number, percent, t } from "/console/i18n.js";

const $ = (id) => document.getElementById(id);
let stations = [];

export async function enter() {
  $("stations").hidden = !can("admin");
  if (!can("admin")) return;
  try {
    stations = await getJson("/v1/stations");
  } catch (error) {
    // 503 (no model serving) or a store hiccup: the models table above still shows.
    toast(errorText(error), "error");
    stations = [];
  }
  render();
}

export function relabel() {
  if (!$("stations").hidden) render();
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function kindLabel(kind) {
  return kind === "*" ? t("stations.allKinds") : t(`metric.${kind}`);
}

function render() {
  const table = $("stations-table");
  $("stations-empty").hidden = stations.length > 0;
  if (!stations.length) {
    table.replaceChildren();
    return;
  }
  const head = document.createElement("thead");
  const headRow = document.createElement("tr");
  for (const key of ["station", "kind", "scans", "threshold", "live", "target", ""]) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = key ? t(`stations.${key}`) : "";
    headRow.append(th);
  }
  head.append(headRow);
  const body = document.createElement("tbody");
  for (const s of stations) {
    const tr = document.createElement("tr");
    tr.dataset.station = s.station;
    tr.dataset.kind = s.kind;
    tr.append(cell(s.station), cell(kindLabel(s.kind)), cell(number(s.scans, 0)));
    tr.append(cell(`${number(s.threshold, 3)} (${t(`stations.source.${s.threshold_source}`)})`, "threshold"));
    const live = s.live;
    const state = live.drifting ? t("stations.drifting") : t("stations.steady");
    tr.append(cell(`${percent(live.rate, 1)} / ${number(live.n, 0)} · ${state}`, live.drifting ? "drifting live" : "live"));
    tr.append(cell(percent(live.target_fa, 1)));
    const actions = cell("", "actions");
    const propose = document.createElement("button");
    propose.className = "propose";
    propose.textContent = t("stations.propose");
    propose.addEventListener("click", () => proposeFor(s));
    actions.append(propose);
    if (s.threshold_source === "station") {
      const back = document.createElement("button");
      back.className = "rollback";
      back.textContent = t("stations.rollback");
      back.addEventListener("click", () => rollback(s));
      actions.append(back);
    }
    tr.append(actions);
    body.append(tr);
  }
  table.replaceChildren(head, body);
}

function query(s) {
  return s.kind === "*" ? "" : `?kind=${encodeURIComponent(s.kind)}`;
}

function detectionText(p) {
  if (!p.real_detection) return t("stations.noCurve");
  return Object.entries(p.real_detection)
    .map(([name, value]) => `${name} ${percent(p.real_detection_now?.[name], 0)} → ${percent(value, 0)}`)
    .join(", ");
}

async function proposeFor(s) {
  const path = `/v1/stations/${encodeURIComponent(s.station)}`;
  try {
    const p = await getJson(`${path}/proposal${query(s)}`);
    const question = t("stations.askApply", {
      station: s.station,
      kind: kindLabel(s.kind),
      threshold: number(p.threshold, 3),
      current: number(p.current_threshold, 3),
      n: number(p.n, 0),
      rate: percent(p.false_alarm_rate, 1),
      low: percent(p.false_alarm_interval[0], 1),
      high: percent(p.false_alarm_interval[1], 1),
      target: percent(p.target_fa, 1),
      detection: detectionText(p),
      undecided: number(p.undecided_alarms, 0),
    });
    if (!(await ask(question))) return;
    const body = { target_fa: p.target_fa, ...(s.kind === "*" ? {} : { kind: s.kind }) };
    const view = await sendJson("POST", `${path}/threshold`, body);
    toast(t("stations.applied", { station: s.station, threshold: number(view.threshold, 3) }), "ok");
  } catch (error) {
    toast(errorText(error), "error");
  } finally {
    await enter();
  }
}

async function rollback(s) {
  if (!(await ask(t("stations.askRollback", { station: s.station, kind: kindLabel(s.kind) })))) return;
  try {
    const body = s.kind === "*" ? {} : { kind: s.kind };
    const view = await sendJson("POST", `/v1/stations/${encodeURIComponent(s.station)}/threshold/rollback`, body);
    toast(t("stations.rolledBack", {
      station: s.station,
      threshold: number(view.threshold, 3),
      source: t(`stations.source.${view.threshold_source}`),
    }), "ok");
  } catch (error) {
    toast(errorText(error), "error");
  } finally {
    await enter();
  }
}
