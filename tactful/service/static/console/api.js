// The service's JSON API, as the console uses it: bearer key from sessionStorage, errors as ApiError.

const KEY_STORE = "tactful.console.key";
const AGENT_STORE = "tactful.console.agent";

export const credentials = {
  get key() { return sessionStorage.getItem(KEY_STORE) || ""; },
  set key(value) { value ? sessionStorage.setItem(KEY_STORE, value) : sessionStorage.removeItem(KEY_STORE); },
  get agent() { return sessionStorage.getItem(AGENT_STORE) || localStorage.getItem(AGENT_STORE) || ""; },
  set agent(value) {
    sessionStorage.setItem(AGENT_STORE, value);
    localStorage.setItem(AGENT_STORE, value); // the name is not secret: prefill it next time
  },
  clear() { sessionStorage.removeItem(KEY_STORE); sessionStorage.removeItem(AGENT_STORE); },
};

export class ApiError extends Error {
  constructor(status, detail, retryAfter) {
    super(detail);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

function headers(extra = {}) {
  const out = { Accept: "application/json", ...extra };
  if (credentials.key) out.Authorization = `Bearer ${credentials.key}`;
  return out;
}

async function request(method, path, body) {
  const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }) };
  if (body !== undefined) init.body = JSON.stringify(body);
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, "The service cannot be reached. Check your connection and try again.");
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = { detail: text.slice(0, 200) }; }
  }
  if (!response.ok) {
    const detail = (data && typeof data.detail === "string" && data.detail) || response.statusText || "Request failed";
    throw new ApiError(response.status, detail, response.headers.get("Retry-After"));
  }
  return data;
}

const enc = encodeURIComponent;

export const api = {
  session: () => request("GET", "/console/api/session"),
  handoffs: ({ statuses, queue, priority }) => {
    const params = new URLSearchParams();
    for (const s of statuses) params.append("status", s);
    if (queue) params.set("queue", queue);
    if (priority) params.set("priority", priority);
    params.set("limit", "200");
    return request("GET", `/v1/handoffs?${params}`);
  },
  handoff: (id) => request("GET", `/v1/handoffs/${enc(id)}`),
  conversation: (id) => request("GET", `/v1/conversations/${enc(id)}`),
  claim: (id, agent) => request("POST", `/v1/handoffs/${enc(id)}/claim`, { agent }),
  reply: (id, agent, text) => request("POST", `/v1/handoffs/${enc(id)}/reply`, { agent, text }),
  resolve: (id, agent, note) => request("POST", `/v1/handoffs/${enc(id)}/resolve`, closeBody(agent, note)),
  feedback: (id, agent, label, note) =>
    request("POST", `/v1/handoffs/${enc(id)}/feedback`, note ? { agent, label, note } : { agent, label }),
  returnToBot: (id, agent, note) => request("POST", `/v1/handoffs/${enc(id)}/return`, closeBody(agent, note)),
};

function closeBody(agent, note) {
  return note ? { agent, note } : { agent };
}

// Server-sent events over fetch (EventSource cannot send an Authorization header).
// Calls onEvent(type, data) for each event; resolves when the stream ends, rejects with ApiError on HTTP errors.
export async function streamQueueEvents(onEvent, signal) {
  const response = await fetch("/console/api/stream", {
    headers: headers({ Accept: "text/event-stream" }),
    signal,
    cache: "no-store",
  });
  if (!response.ok || !response.body) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail || detail; } catch { /* not JSON */ }
    throw new ApiError(response.status, detail);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      dispatch(block, onEvent);
    }
  }
}

function dispatch(block, onEvent) {
  let type = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") type = value;
    else if (field === "data") data.push(value);
  }
  if (!data.length) return;
  let parsed;
  try { parsed = JSON.parse(data.join("\n")); } catch { return; }
  onEvent(type, parsed);
}
