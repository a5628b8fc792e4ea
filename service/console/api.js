// The service's JSON API with the operator's key (kept in sessionStorage, gone when the tab closes).

const KEY_STORAGE = "triage.apiKey";

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
  }
}

export function storedKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function storeKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

export function headers(extra = {}) {
  const key = storedKey();
  return key ? { Authorization: `Bearer ${key}`, ...extra } : extra;
}

async function check(response) {
  if (response.ok) return response;
  // The key was revoked (or the store replaced) while signed in: the shell goes back to the sign-in form.
  if (response.status === 401 && storedKey()) window.dispatchEvent(new CustomEvent("triage:unauthorised"));
  let detail = response.statusText;
  try {
    detail = (await response.json()).detail ?? detail;
  } catch {
    // not JSON: keep the status text
  }
  throw new ApiError(response.status, detail);
}

export async function getJson(path) {
  return (await check(await fetch(path, { headers: headers() }))).json();
}

export async function sendJson(method, path, body) {
  const init = { method, headers: headers({ "Content-Type": "application/json" }) };
  if (body !== undefined) init.body = JSON.stringify(body);
  return (await check(await fetch(path, init))).json();
}

export async function postForm(path, form) {
  return (await check(await fetch(path, { method: "POST", headers: headers(), body: form }))).json();
}

// The blob: URL of an image fetched before, or undefined (lets a re-render show it without a flash).
export function cachedImageUrl(path) {
  return blobs.get(path);
}

// An authenticated image as a blob: URL for <img src>; cached, as scan images and snapshots never change.
const blobs = new Map();
export async function imageUrl(path) {
  if (blobs.has(path)) return blobs.get(path);
  const blob = await (await check(await fetch(path, { headers: headers() }))).blob();
  const url = URL.createObjectURL(blob);
  blobs.set(path, url);
  if (blobs.size > 300) {
    const [oldest, oldUrl] = blobs.entries().next().value;
    URL.revokeObjectURL(oldUrl);
    blobs.delete(oldest);
  }
  return url;
}

// Server-sent events read with fetch, since EventSource cannot send an Authorization header.
// Calls onEvent(type, data) per event and onState("live"|"retry"|"off"); reconnects from the last event id.
// Starts from `since` (a time the server gave, e.g. the newest scan already listed), else from the server's
// "now" (never the browser's clock, which may be off).
export function streamEvents(path, onEvent, onState, since = null) {
  let stopped = false;
  const controller = { abort: null };
  async function once() {
    const abort = new AbortController();
    controller.abort = abort;
    const url = since ? `${path}?since=${encodeURIComponent(since)}` : path;
    const response = await check(await fetch(url, { headers: headers({ Accept: "text/event-stream" }), signal: abort.signal }));
    onState("live");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let type = "message";
        let id = null;
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) type = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
          else if (line.startsWith("id:")) id = line.slice(3).trim();
        }
        if (id) since = id;
        if (type === "hello" && !since && data.length) since = JSON.parse(data.join("\n")).since;
        else if (data.length && type !== "hello" && type !== "bye") onEvent(type, JSON.parse(data.join("\n")));
      }
    }
  }
  (async () => {
    while (!stopped) {
      try {
        await once();
      } catch (error) {
        if (stopped) break;
        onState(error instanceof ApiError && error.status === 401 ? "off" : "retry");
        if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return;
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    }
  })();
  return () => {
    stopped = true;
    onState("off");
    if (controller.abort) controller.abort.abort();
  };
}
