// Scan view: the live queue, the picture with heat map and boxes, the verdict, feedback and uploads.
import { getJson, imageUrl, postForm, sendJson, streamEvents } from "/console/api.js";
import { can, errorText, session, showLarge, toast } from "/console/app.js";
import { className, dateTime, number, t, time } from "/console/i18n.js";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const QUEUE_LIMIT = 200;
// The threat classes come from the serving model's card (one source of truth: vision/classes.py).
let classes = [];
// Uploads from the console are recorded under this station name (data, so not translated).
const UPLOAD_STATION = "console";

const state = {
  scans: [], // newest first
  selected: null, // the scan record on show
  seen: new Set(),
  stop: null,
  drawing: false,
  drawn: [], // missed boxes being drawn: {label, box}
  drag: null,
  loadToken: 0,
};

export function init() {
  $("only-alarms").addEventListener("change", renderQueue);
  $("toggle-heat").addEventListener("change", applyToggles);
  $("toggle-boxes").addEventListener("change", applyToggles);
  $("act-confirm").addEventListener("click", () => judge("confirmed"));
  $("act-false").addEventListener("click", () => judge("false_alarm"));
  $("act-clear").addEventListener("click", () => judge("cleared"));
  $("act-missed").addEventListener("click", startDrawing);
  $("show-overlay").addEventListener("click", showOverlay);
  $("missed-send").addEventListener("click", sendMissed);
  $("missed-cancel").addEventListener("click", stopDrawing);
  $("upload-input").addEventListener("change", (event) => upload([...event.target.files]));
  setupDrop();
  setupDrawing();
  new ResizeObserver(fitPicture).observe($("stage-view"));
  document.addEventListener("keydown", onKey);
  fillClasses();
}

export function relabel() {
  fillClasses();
  renderQueue();
  if (state.selected) renderDetails(state.selected);
  setLive(document.getElementById("live").dataset.state);
}

function fillClasses() {
  const select = $("missed-class");
  const value = select.value || "blade";
  select.replaceChildren(...classes.map((c) => new Option(className(c), c)));
  if (classes.includes(value)) select.value = value;
}

async function loadClasses() {
  const models = await getJson("/v1/models");
  const serving = models.find((m) => m.serving) || models[0];
  classes = serving?.card?.classes || [];
  fillClasses();
}

export async function enter() {
  try {
    if (!classes.length) await loadClasses();
    const page = await getJson("/v1/scans?limit=50");
    merge(page.items);
  } catch (error) {
    toast(errorText(error), "error");
  }
  renderQueue();
  if (!state.selected && state.scans.length) select(state.scans[0].id);
  // From the newest scan listed: nothing stored between the listing and the stream is missed.
  state.stop = streamEvents("/v1/scans/stream", onStreamEvent, setLive, state.scans[0]?.created || null);
}

export function leave() {
  if (state.stop) state.stop();
  state.stop = null;
  stopDrawing();
}

function setLive(liveState) {
  const el = $("live");
  el.dataset.state = liveState || "off";
  el.textContent = liveState === "live" ? t("live.on") : liveState === "retry" ? t("live.retry") : "";
}

function onStreamEvent(type, scan) {
  if (type !== "scan") return;
  const fresh = !state.scans.some((s) => s.id === scan.id);
  merge([scan]);
  renderQueue();
  if (fresh && scan.verdict === "alarm") toast(t("scans.newAlarm", { station: scan.station || "—" }), "alarm");
  if (!state.selected) select(scan.id);
}

function merge(records) {
  const byId = new Map(state.scans.map((s) => [s.id, s]));
  for (const record of records) byId.set(record.id, record);
  state.scans = [...byId.values()].sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0)).slice(0, QUEUE_LIMIT);
}

function visibleScans() {
  return $("only-alarms").checked ? state.scans.filter((s) => s.verdict === "alarm") : state.scans;
}

function renderQueue() {
  const list = $("queue-list");
  const items = visibleScans().map((scan) => {
    const li = document.createElement("li");
    li.className = "queue-item";
    li.dataset.id = scan.id;
    li.dataset.verdict = scan.verdict;
    li.classList.toggle("selected", state.selected?.id === scan.id);
    li.classList.toggle("unseen", !state.seen.has(scan.id));
    const verdict = document.createElement("span");
    verdict.className = "q-verdict";
    verdict.textContent = t(`verdict.${scan.verdict}`);
    const station = document.createElement("span");
    station.className = "q-station";
    station.textContent = scan.station || t("scans.noStation");
    const when = document.createElement("span");
    when.className = "q-time";
    when.textContent = time(scan.created);
    const score = document.createElement("span");
    score.className = "q-score";
    score.textContent = number(scan.score, 2);
    const judged = document.createElement("span");
    judged.className = "q-judged";
    if (scan.feedback?.length) judged.textContent = feedbackLabel(scan.feedback.at(-1));
    li.append(verdict, score, station, when, judged);
    li.addEventListener("click", () => select(scan.id));
    return li;
  });
  list.replaceChildren(...items);
  $("queue-empty").hidden = items.length > 0;
}

async function select(id) {
  stopDrawing();
  const token = ++state.loadToken;
  let scan = state.scans.find((s) => s.id === id);
  try {
    scan = await getJson(`/v1/scans/${id}`); // with its feedback
  } catch (error) {
    toast(errorText(error), "error");
    if (!scan) return;
  }
  if (token !== state.loadToken) return;
  merge([scan]);
  state.selected = scan;
  state.seen.add(id);
  renderQueue();
  renderDetails(scan);
  await showPicture(scan, token);
  const item = $("queue-list").querySelector(`[data-id="${id}"]`);
  if (item) item.scrollIntoView({ block: "nearest" });
}

async function showPicture(scan, token) {
  const picture = $("picture");
  try {
    // Keyed by the shown image's hash: a scan revealed as a drill shows its original from then on.
    const version = `?v=${scan.image_sha256.slice(0, 16)}`;
    const [image, heat] = await Promise.all([
      imageUrl(`/v1/scans/${scan.id}/image${version}`),
      imageUrl(`/v1/scans/${scan.id}/heatmap.png${version}`),
    ]);
    if (token !== state.loadToken) return;
    const img = $("scan-img");
    img.src = image;
    $("heat-img").src = heat;
    await img.decode().catch(() => {});
    picture.hidden = false;
    $("stage-empty").hidden = true;
    fitPicture();
    drawBoxes(scan);
    applyToggles();
  } catch (error) {
    if (token === state.loadToken) toast(errorText(error), "error");
  }
}

// The largest size with the scan's aspect that fits the stage; the heat map and the boxes follow the box.
function fitPicture() {
  const img = $("scan-img");
  const view = $("stage-view");
  if (!img.naturalWidth) return;
  const style = getComputedStyle(view);
  const width = view.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const height = view.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
  const scale = Math.min(width / img.naturalWidth, height / img.naturalHeight);
  $("picture").style.width = `${Math.floor(img.naturalWidth * scale)}px`;
  $("picture").style.height = `${Math.floor(img.naturalHeight * scale)}px`;
}

function renderDetails(scan) {
  const verdict = $("verdict");
  verdict.dataset.verdict = scan.verdict;
  verdict.textContent = t(`verdict.${scan.verdict}`);
  $("fact-score").textContent = number(scan.score, 3);
  $("fact-threshold").textContent = number(scan.threshold, 3);
  $("fact-station").textContent = scan.station || "—";
  $("fact-time").textContent = dateTime(scan.created);
  $("fact-model").textContent = `${scan.model.name} ${scan.model.version}`;
  $("fact-size").textContent = scan.width ? t("scans.pixels", { w: scan.width, h: scan.height }) : "—";
  const detections = scan.detections.map((d, i) => {
    const li = document.createElement("li");
    li.dataset.index = i;
    const label = document.createElement("span");
    label.textContent = className(d.label);
    const score = document.createElement("span");
    score.className = "num";
    score.textContent = number(d.score, 2);
    li.classList.toggle("over", d.score >= scan.threshold);
    li.append(label, score);
    return li;
  });
  if (!detections.length) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = t("scans.noDetections");
    detections.push(li);
  }
  $("detections").replaceChildren(...detections);
  const feedback = (scan.feedback || []).map((f) => {
    const li = document.createElement("li");
    li.dataset.outcome = f.outcome;
    const boxes = f.boxes.length ? ` · ${f.boxes.map((b) => className(b.label)).join(", ")}` : "";
    li.textContent = `${feedbackLabel(f)}${boxes} · ${dateTime(f.created)}`;
    return li;
  });
  if (!feedback.length) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = t("scans.noFeedback");
    feedback.push(li);
  }
  $("feedback-list").replaceChildren(...feedback);
  // Confirming and refuting judge an alarm; a clear scan is passed (cleared) or has a missed threat.
  const allowed = can("feedback");
  const alarm = scan.verdict === "alarm";
  $("act-confirm").disabled = !allowed || !alarm;
  $("act-false").disabled = !allowed || !alarm;
  $("act-clear").disabled = !allowed || alarm;
  $("act-missed").disabled = !allowed;
}

function svgEl(name, attrs) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

function drawBoxes(scan) {
  const layer = $("box-layer");
  layer.setAttribute("viewBox", `0 0 ${scan.width} ${scan.height}`);
  layer.setAttribute("preserveAspectRatio", "none");
  const stroke = Math.max(2, Math.round(Math.max(scan.width, scan.height) / 300));
  const font = Math.max(12, Math.round(Math.max(scan.width, scan.height) / 45));
  const shapes = [];
  const add = (box, text, cls) => {
    const [x0, y0, x1, y1] = box;
    const group = svgEl("g", { class: cls });
    group.append(svgEl("rect", { x: x0, y: y0, width: x1 - x0, height: y1 - y0, "stroke-width": stroke }));
    const label = svgEl("text", { x: x0 + stroke, y: Math.max(font, y0 - stroke * 2), "font-size": font });
    label.textContent = text;
    group.append(label);
    shapes.push(group);
  };
  for (const d of scan.detections) {
    if (d.score >= scan.threshold) add(d.box, `${className(d.label)} ${number(d.score, 2)}`, "det");
    else add(d.box, `${className(d.label)} ${number(d.score, 2)}`, "det weak");
  }
  for (const f of scan.feedback || []) for (const b of f.boxes) add(b.box, className(b.label), "operator");
  for (const b of state.drawn) add(b.box, className(b.label), "drawing");
  if (state.drag?.box) add(state.drag.box, className($("missed-class").value), "drawing");
  layer.replaceChildren(...shapes);
}

function applyToggles() {
  $("heat-img").hidden = !$("toggle-heat").checked;
  $("box-layer").classList.toggle("hide-dets", !$("toggle-boxes").checked);
}

async function judge(outcome, boxes = []) {
  const scan = state.selected;
  if (!scan || !can("feedback")) return;
  if ((outcome === "confirmed" || outcome === "false_alarm") && scan.verdict !== "alarm") return;
  if (outcome === "cleared" && scan.verdict !== "clear") return;
  try {
    const saved = await sendJson("POST", `/v1/scans/${scan.id}/feedback`, { outcome, boxes });
    if (saved?.drill) revealDrill(saved.drill);
    else toast(t("scans.saved", { outcome: t(`outcome.${outcome}`) }), "ok");
    const fresh = await getJson(`/v1/scans/${scan.id}`);
    merge([fresh]);
    if (state.selected?.id === fresh.id) {
      state.selected = fresh;
      renderDetails(fresh);
      if (fresh.image_sha256 !== scan.image_sha256) await showPicture(fresh, state.loadToken);
      drawBoxes(fresh);
      applyToggles();
    }
    renderQueue();
  } catch (error) {
    toast(errorText(error), "error");
  }
}

function feedbackLabel(f) {
  const label = t(`outcome.${f.outcome}`);
  return f.drill ? `${label} · ${t(`drills.reveal.${f.drill.outcome}`, { label: className(f.drill.label) })}` : label;
}

// The decision revealed a drill: show the projected image with the threat outlined, then the real scan.
async function revealDrill(drill) {
  const text = t(`drills.reveal.${drill.outcome}`, { label: className(drill.label) });
  toast(text, drill.outcome === "hit" ? "ok" : "error");
  try {
    const url = await imageUrl(`/v1/drills/${drill.id}/image`);
    showLarge(url, `${text} ${t("drills.reveal.after")}`);
  } catch (error) {
    toast(errorText(error), "error");
  }
}

// The service's own rendering (GET /v1/scans/{id}/overlay.png: heat map and boxes burnt in), as it would
// be printed or attached to a report, shown large.
async function showOverlay() {
  const scan = state.selected;
  if (!scan) return;
  try {
    const url = await imageUrl(`/v1/scans/${scan.id}/overlay.png`);
    showLarge(url, `${t(`verdict.${scan.verdict}`)} · ${scan.station || "—"} · ${dateTime(scan.created)}`);
  } catch (error) {
    toast(errorText(error), "error");
  }
}

// ---- drawing missed boxes ------------------------------------------------------------------------------

function startDrawing() {
  if (!state.selected || !can("feedback")) return;
  state.drawing = true;
  state.drawn = [];
  $("missed-form").hidden = false;
  $("draw-hint").hidden = false;
  $("picture").classList.add("drawing");
  renderMissed();
}

function stopDrawing() {
  state.drawing = false;
  state.drawn = [];
  state.drag = null;
  $("missed-form").hidden = true;
  $("draw-hint").hidden = true;
  $("picture").classList.remove("drawing");
  if (state.selected) drawBoxes(state.selected);
}

function renderMissed() {
  const items = state.drawn.map((b, i) => {
    const li = document.createElement("li");
    const label = document.createElement("span");
    label.textContent = `${className(b.label)} [${b.box.map((v) => number(v, 0)).join(", ")}]`;
    const remove = document.createElement("button");
    remove.textContent = "×";
    remove.title = t("common.remove");
    remove.addEventListener("click", () => {
      state.drawn.splice(i, 1);
      renderMissed();
      drawBoxes(state.selected);
    });
    li.append(label, remove);
    return li;
  });
  $("missed-boxes").replaceChildren(...items);
  $("missed-send").disabled = state.drawn.length === 0;
}

function imagePoint(event) {
  const layer = $("box-layer");
  const rect = layer.getBoundingClientRect();
  const scan = state.selected;
  const x = ((event.clientX - rect.left) / rect.width) * scan.width;
  const y = ((event.clientY - rect.top) / rect.height) * scan.height;
  return [Math.min(Math.max(x, 0), scan.width), Math.min(Math.max(y, 0), scan.height)];
}

function setupDrawing() {
  const layer = $("box-layer");
  layer.addEventListener("pointerdown", (event) => {
    if (!state.drawing) return;
    event.preventDefault();
    layer.setPointerCapture(event.pointerId);
    state.drag = { from: imagePoint(event), box: null };
  });
  layer.addEventListener("pointermove", (event) => {
    if (!state.drawing || !state.drag) return;
    const [x0, y0] = state.drag.from;
    const [x1, y1] = imagePoint(event);
    state.drag.box = [Math.min(x0, x1), Math.min(y0, y1), Math.max(x0, x1), Math.max(y0, y1)].map(Math.round);
    drawBoxes(state.selected);
  });
  layer.addEventListener("pointerup", () => {
    if (!state.drawing || !state.drag) return;
    const box = state.drag.box;
    state.drag = null;
    if (box && box[2] - box[0] >= 3 && box[3] - box[1] >= 3) {
      state.drawn.push({ label: $("missed-class").value, box });
      renderMissed();
    }
    drawBoxes(state.selected);
  });
}

async function sendMissed() {
  if (!state.drawn.length) return;
  const boxes = state.drawn.map((b) => ({ label: b.label, box: b.box }));
  stopDrawing();
  await judge("missed", boxes);
}

// ---- keyboard ------------------------------------------------------------------------------------------

function step(delta) {
  const list = visibleScans();
  if (!list.length) return;
  const index = list.findIndex((s) => s.id === state.selected?.id);
  const next = list[Math.min(Math.max(index + delta, 0), list.length - 1)];
  if (next) select(next.id);
}

function onKey(event) {
  if (session.page !== "scans" || !$("modal").hidden || !$("lightbox").hidden) return;
  if (event.target.closest("input, select, textarea") && event.key !== "Escape") return;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key.toLowerCase();
  const actions = {
    c: () => judge("confirmed"),
    f: () => judge("false_alarm"),
    p: () => judge("cleared"),
    m: () => (state.drawing ? stopDrawing() : startDrawing()),
    h: () => { $("toggle-heat").checked = !$("toggle-heat").checked; applyToggles(); },
    b: () => { $("toggle-boxes").checked = !$("toggle-boxes").checked; applyToggles(); },
    j: () => step(1),
    arrowdown: () => step(1),
    k: () => step(-1),
    arrowup: () => step(-1),
    o: () => showOverlay(),
    escape: () => stopDrawing(),
    enter: () => state.drawing && sendMissed(),
  };
  if (state.drawing && (key === "c" || key === "f" || key === "p")) return;
  const action = actions[key];
  if (action) {
    event.preventDefault();
    action();
  }
}

// ---- uploads -------------------------------------------------------------------------------------------

async function upload(files) {
  if (!can("scan")) {
    toast(t("error.403"), "error");
    return;
  }
  for (const file of files) {
    const form = new FormData();
    form.append("file", file, file.name);
    form.append("station", UPLOAD_STATION);
    try {
      const result = await postForm("/v1/scans", form);
      toast(t("scans.uploaded", { name: file.name, verdict: t(`verdict.${result.verdict}`) }), result.verdict === "alarm" ? "alarm" : "ok");
      await select(result.id);
    } catch (error) {
      toast(`${file.name}: ${errorText(error)}`, "error");
    }
  }
  $("upload-input").value = "";
}

function setupDrop() {
  const page = $("page-scans");
  const zone = $("dropzone");
  let depth = 0;
  page.addEventListener("dragenter", (event) => {
    if (!event.dataTransfer?.types.includes("Files")) return;
    depth += 1;
    zone.hidden = false;
  });
  page.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) zone.hidden = true;
  });
  page.addEventListener("dragover", (event) => event.preventDefault());
  page.addEventListener("drop", (event) => {
    event.preventDefault();
    depth = 0;
    zone.hidden = true;
    const files = [...(event.dataTransfer?.files || [])];
    if (files.length) upload(files);
  });
}
