// Camera wall: each camera's latest snapshot and motion state, the event list with snapshots, and an editor
// for masks and zones drawn on the frame and saved with PUT /v1/cameras/{id}.
import { ApiError, cachedImageUrl, getJson, imageUrl, sendJson } from "/console/api.js";
import { can, errorText, showLarge, toast } from "/console/app.js";
import { ago, dateTime, duration, percent, t, time } from "/console/i18n.js";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const POLL_MS = 2000;
// Polygons are fractions of the frame (as the API stores them); the SVG canvas is 1000 units wide with the
// frame's aspect, so labels are not stretched.
const CANVAS_WIDTH = 1000;
const CLOSE_PX = 12;

const aspects = new Map(); // camera → "w / h" of its snapshots, kept across re-renders
const state = { timer: null, cameras: [], configs: new Map(), events: [], latest: new Map(), editing: null };

export function init() {
  $("ed-mask").addEventListener("click", () => beginShape("mask"));
  $("ed-zone").addEventListener("click", () => beginShape("zone"));
  $("ed-undo").addEventListener("click", undoPoint);
  $("ed-delete").addEventListener("click", deleteSelected);
  $("ed-save").addEventListener("click", save);
  $("ed-cancel").addEventListener("click", closeEditor);
  $("ed-layer").addEventListener("click", onCanvasClick);
  window.addEventListener("resize", () => { if (state.editing) fitEditor(); });
  document.addEventListener("keydown", onKey);
}

export function relabel() {
  if (state.cameras.length || state.events.length) render();
  if (state.editing) renderEditor();
}

export async function enter() {
  await refresh();
  state.timer = setInterval(refresh, POLL_MS);
}

export function leave() {
  clearInterval(state.timer);
  state.timer = null;
  closeEditor();
}

async function refresh() {
  try {
    state.events = await getJson("/v1/events?limit=100");
  } catch (error) {
    toast(errorText(error), "error");
    return;
  }
  let ids;
  try {
    const cameras = await getJson("/v1/cameras");
    for (const c of cameras) state.configs.set(c.id, c.config);
    ids = cameras.map((c) => c.id);
    $("cameras-note").textContent = "";
  } catch (error) {
    // Listing cameras takes an admin key; a camera key still sees every camera that had an event.
    if (!(error instanceof ApiError && error.status === 403)) throw error;
    ids = [...new Set(state.events.map((e) => e.camera))].sort();
    $("cameras-note").textContent = t("cameras.fromEvents");
  }
  state.cameras = ids;
  state.latest = new Map();
  for (const event of state.events) if (!state.latest.has(event.camera)) state.latest.set(event.camera, event);
  for (const id of ids.filter((c) => !state.latest.has(c))) {
    const found = await getJson(`/v1/events?camera=${encodeURIComponent(id)}&limit=1`).catch(() => []);
    if (found.length) state.latest.set(id, found[0]);
  }
  render();
}

// The newest finished event of a camera that has a snapshot (an open event has none yet).
function latestSnapshot(camera) {
  return state.events.find((e) => e.camera === camera && e.snapshot_url) || null;
}

function setImage(img, url) {
  if (!url) {
    img.removeAttribute("src");
    return;
  }
  const cached = cachedImageUrl(url);
  if (cached) {
    img.src = cached;
    return;
  }
  imageUrl(url).then((blob) => { if (img.src !== blob) img.src = blob; }).catch(() => {});
}

function render() {
  const tiles = state.cameras.map((id) => {
    const latest = state.latest.get(id);
    const moving = Boolean(latest?.open);
    const tile = document.createElement("article");
    tile.className = "tile";
    tile.dataset.camera = id;
    tile.dataset.motion = moving ? "motion" : "quiet";
    const frame = document.createElement("div");
    frame.className = "tile-frame";
    const img = document.createElement("img");
    img.alt = "";
    const shot = latestSnapshot(id);
    setImage(img, shot?.snapshot_url);
    const none = document.createElement("span");
    none.className = "muted";
    none.textContent = shot ? "" : t("cameras.noSnapshot");
    frame.append(img, none);
    const config = state.configs.get(id);
    if (config && shot) {
      // The frame takes the snapshot's aspect so the shapes (fractions of the frame) lie where they belong.
      if (aspects.has(id)) frame.style.aspectRatio = aspects.get(id);
      img.addEventListener("load", () => {
        aspects.set(id, `${img.naturalWidth} / ${img.naturalHeight}`);
        frame.style.aspectRatio = aspects.get(id);
      });
      frame.append(shapesOverlay(config));
    }
    const head = document.createElement("div");
    head.className = "tile-head";
    const name = document.createElement("span");
    name.className = "tile-name";
    name.textContent = id;
    const status = document.createElement("span");
    status.className = "motion-badge";
    status.textContent = moving ? t("cameras.motion") : t("cameras.quiet");
    head.append(name, status);
    const foot = document.createElement("div");
    foot.className = "tile-foot muted";
    if (moving) foot.textContent = t("cameras.movingSince", { when: time(latest.start) });
    else foot.textContent = latest ? t("cameras.lastEvent", { when: ago(latest.end) }) : t("cameras.noEvents");
    tile.append(head, frame, foot);
    if (can("admin") && state.configs.has(id)) {
      const edit = document.createElement("button");
      edit.className = "edit";
      edit.textContent = t("cameras.editShapes");
      edit.addEventListener("click", () => openEditor(id));
      foot.append(" ", edit);
    }
    return tile;
  });
  $("wall").replaceChildren(...tiles);
  $("wall-empty").hidden = tiles.length > 0;
  const rows = state.events.map((event) => {
    const li = document.createElement("li");
    li.className = "event";
    li.dataset.id = event.id;
    li.dataset.open = event.open;
    const img = document.createElement("img");
    img.alt = "";
    setImage(img, event.snapshot_url);
    const text = document.createElement("div");
    const title = document.createElement("div");
    title.className = "event-title";
    title.textContent = `${event.camera}${event.zone ? ` · ${t("cameras.zone")}: ${event.zone}` : ""}`;
    const detail = document.createElement("div");
    detail.className = "muted";
    const seconds = (new Date(event.end) - new Date(event.start)) / 1000;
    detail.textContent = event.open
      ? `${time(event.start)} · ${t("cameras.ongoing")}`
      : `${dateTime(event.start)} · ${duration(seconds)} · ${t("cameras.peak")} ${percent(event.peak_score, 2)} · ${t("cameras.frames", { n: event.frames })}`;
    text.append(title, detail);
    li.append(img, text);
    if (event.snapshot_url) img.addEventListener("click", () => showLarge(img.src, `${title.textContent} · ${detail.textContent}`));
    return li;
  });
  $("events").replaceChildren(...rows);
  $("events-empty").hidden = rows.length > 0;
}

// A camera's masks and zones as a thin SVG layer over its tile (coordinates are fractions of the frame).
function shapesOverlay(config) {
  const layer = svgEl("svg", { class: "tile-shapes", viewBox: "0 0 1 1", preserveAspectRatio: "none" });
  for (const polygon of config.masks) {
    layer.append(svgEl("polygon", { class: "mask", points: polygon.map((p) => p.join(",")).join(" ") }));
  }
  for (const polygon of Object.values(config.zones)) {
    layer.append(svgEl("polygon", { class: "zone", points: polygon.map((p) => p.join(",")).join(" ") }));
  }
  return layer;
}

// ---- mask and zone editor ------------------------------------------------------------------------------

function openEditor(id) {
  const config = state.configs.get(id);
  state.editing = {
    id,
    config,
    masks: config.masks.map((p) => p.map(([x, y]) => [x, y])),
    zones: Object.entries(config.zones).map(([name, p]) => ({ name, points: p.map(([x, y]) => [x, y]) })),
    height: CANVAS_WIDTH * 9 / 16,
    drawing: null, // {kind, name, points}
    selected: null, // {kind, index}
  };
  const shot = latestSnapshot(id);
  const img = $("ed-img");
  img.onload = fitEditor;
  setImage(img, shot?.snapshot_url);
  $("ed-picture").classList.toggle("blank", !shot);
  $("ed-error").hidden = true;
  $("editor").hidden = false;
  fitEditor();
  renderEditor();
}

// The frame as large as the editor allows, keeping its aspect (16:9 when there is no snapshot yet).
function fitEditor() {
  const img = $("ed-img");
  const shot = !$("ed-picture").classList.contains("blank") && img.naturalWidth;
  const [w, h] = shot ? [img.naturalWidth, img.naturalHeight] : [16, 9];
  const frame = $("ed-picture").parentElement;
  const width = frame.clientWidth - 16;
  const height = Math.max(200, window.innerHeight - 250);
  const scale = Math.min(width / w, height / h);
  $("ed-picture").style.width = `${Math.floor(w * scale)}px`;
  $("ed-picture").style.height = `${Math.floor(h * scale)}px`;
  if (state.editing) {
    state.editing.height = Math.round((CANVAS_WIDTH * h) / w);
    $("ed-layer").setAttribute("viewBox", `0 0 ${CANVAS_WIDTH} ${state.editing.height}`);
    renderEditor();
  }
}

function closeEditor() {
  state.editing = null;
  $("editor").hidden = true;
}

function beginShape(kind) {
  const ed = state.editing;
  if (!ed) return;
  let name = null;
  if (kind === "zone") {
    name = $("ed-zone-name").value.trim();
    if (!name || ed.zones.some((z) => z.name === name)) {
      showEditorError(t(name ? "cameras.zoneTaken" : "cameras.zoneNeedsName"));
      return;
    }
  }
  $("ed-error").hidden = true;
  ed.drawing = { kind, name, points: [] };
  renderEditor();
}

function showEditorError(text) {
  $("ed-error").textContent = text;
  $("ed-error").hidden = false;
}

// The click as fractions of the frame, rounded to 0.001.
function framePoint(event) {
  const rect = $("ed-layer").getBoundingClientRect();
  const clamp = (v) => Math.round(Math.min(Math.max(v, 0), 1) * 1000) / 1000;
  return [clamp((event.clientX - rect.left) / rect.width), clamp((event.clientY - rect.top) / rect.height)];
}

function onCanvasClick(event) {
  const ed = state.editing;
  if (!ed) return;
  if (!ed.drawing) {
    const target = event.target.closest("[data-kind]");
    ed.selected = target ? { kind: target.dataset.kind, index: Number(target.dataset.index) } : null;
    renderEditor();
    return;
  }
  const point = framePoint(event);
  const points = ed.drawing.points;
  const rect = $("ed-layer").getBoundingClientRect();
  const gap = Math.hypot((point[0] - points[0]?.[0]) * rect.width, (point[1] - points[0]?.[1]) * rect.height);
  if (points.length >= 3 && gap < CLOSE_PX) {
    finishShape();
    return;
  }
  points.push(point);
  renderEditor();
}

function finishShape() {
  const ed = state.editing;
  if (!ed?.drawing) return;
  const { kind, name, points } = ed.drawing;
  if (points.length < 3) {
    showEditorError(t("cameras.needThree"));
    return;
  }
  if (kind === "mask") ed.masks.push(points);
  else ed.zones.push({ name, points });
  ed.drawing = null;
  $("ed-zone-name").value = "";
  renderEditor();
}

function undoPoint() {
  const ed = state.editing;
  if (ed?.drawing) {
    ed.drawing.points.pop();
    renderEditor();
  }
}

function deleteSelected() {
  const ed = state.editing;
  if (!ed?.selected) return;
  if (ed.selected.kind === "mask") ed.masks.splice(ed.selected.index, 1);
  else ed.zones.splice(ed.selected.index, 1);
  ed.selected = null;
  renderEditor();
}

function onKey(event) {
  if (!state.editing || $("editor").hidden) return;
  if (event.target.closest("input, select, textarea")) return;
  if (event.key === "Enter") { event.preventDefault(); finishShape(); }
  else if (event.key === "Escape") {
    event.preventDefault();
    if (state.editing.drawing) { state.editing.drawing = null; renderEditor(); } else closeEditor();
  } else if (event.key === "Backspace") { event.preventDefault(); undoPoint(); }
  else if (event.key === "Delete") { event.preventDefault(); deleteSelected(); }
}

function svgEl(name, attrs) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

function centroid(points) {
  const n = points.length;
  return [points.reduce((s, p) => s + p[0], 0) / n, points.reduce((s, p) => s + p[1], 0) / n];
}

function renderEditor() {
  const ed = state.editing;
  if (!ed) return;
  $("editor-title").textContent = t("cameras.editorTitle", { camera: ed.id });
  const toCanvas = (points) => points.map(([x, y]) => [x * CANVAS_WIDTH, y * ed.height]);
  const shapes = [];
  const shape = (kind, index, fractions, label) => {
    const points = toCanvas(fractions);
    const selected = ed.selected && ed.selected.kind === kind && ed.selected.index === index;
    const group = svgEl("g", { class: `${kind}${selected ? " selected" : ""}`, "data-kind": kind, "data-index": index });
    group.append(svgEl("polygon", { points: points.map((p) => p.join(",")).join(" ") }));
    const [cx, cy] = centroid(points);
    const text = svgEl("text", { x: cx, y: cy, "text-anchor": "middle" });
    text.textContent = label;
    group.append(text);
    shapes.push(group);
  };
  ed.masks.forEach((points, i) => shape("mask", i, points, t("cameras.mask")));
  ed.zones.forEach((zone, i) => shape("zone", i, zone.points, zone.name));
  if (ed.drawing) {
    const pts = toCanvas(ed.drawing.points);
    const group = svgEl("g", { class: `drawing ${ed.drawing.kind}` });
    group.append(svgEl("polyline", { points: pts.map((p) => p.join(",")).join(" ") }));
    for (const [x, y] of pts) group.append(svgEl("circle", { cx: x, cy: y, r: 8 }));
    shapes.push(group);
  }
  $("ed-layer").replaceChildren(...shapes);
  $("ed-layer").classList.toggle("drawing", Boolean(ed.drawing));
  $("ed-hint").textContent = ed.drawing ? t("cameras.drawingHint") : t("cameras.editorHint");
  $("ed-undo").disabled = !ed.drawing;
  $("ed-delete").disabled = !ed.selected;
}

async function save() {
  const ed = state.editing;
  if (!ed) return;
  if (ed.drawing) finishShape();
  if (ed.drawing) return;
  const config = {
    ...ed.config,
    masks: ed.masks,
    zones: Object.fromEntries(ed.zones.map((z) => [z.name, z.points])),
  };
  try {
    const saved = await sendJson("PUT", `/v1/cameras/${encodeURIComponent(ed.id)}`, config);
    state.configs.set(ed.id, saved.config);
    toast(t("cameras.saved", { camera: ed.id }), "ok");
    closeEditor();
  } catch (error) {
    showEditorError(errorText(error));
  }
}
