// The console's controller: sign-in, the live queue, the detail view and the agent's actions.

import { api, ApiError, credentials, streamQueueEvents } from "./api.js";
import { reasonText, waitingText, words } from "./format.js";
import { detailView, queueItem } from "./views.js";

const $ = (id) => document.getElementById(id);
const STATUS_FILTERS = {
  active: ["open", "claimed"], open: ["open"], claimed: ["claimed"], resolved: ["resolved"],
  returned: ["returned"], all: [],
};

const state = {
  tenant: "",
  singleTenant: false,
  items: [],
  queues: new Set(),
  selectedId: null,
  handoff: null,
  conversation: null,
  stream: null,
  retryMs: 1000,
  firstShown: new Map(), // handoff id -> Date.now() when it first appeared in the list
  detailSeq: 0,
  queueSeq: 0,
  pendingStatus: null, // the outcome of the agent's last action, shown by whichever refresh renders next
  primed: false, // the first list has been shown: later arrivals are highlighted as new
};

// ------------------------------------------------------------------ sign-in

function showSignin(message) {
  $("session").hidden = true;
  $("workspace").hidden = true;
  $("signin").hidden = false;
  $("agent-name").value = credentials.agent;
  const keyField = $("api-key").closest(".field");
  keyField.hidden = state.singleTenant;
  $("signin-error").textContent = message || "";
  (state.singleTenant ? $("agent-name") : $("api-key")).focus();
}

async function checkSession() {
  try {
    const session = await api.session();
    state.tenant = session.tenant;
    state.singleTenant = session.single_tenant;
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      state.singleTenant = false;
      return false;
    }
    throw err;
  }
}

async function onSignin(event) {
  event.preventDefault();
  const agent = $("agent-name").value.trim();
  const key = $("api-key").value.trim();
  if (!state.singleTenant && !key) {
    $("signin-error").textContent = "Enter your API key.";
    $("api-key").focus();
    return;
  }
  if (!agent) {
    $("signin-error").textContent = "Enter your name.";
    $("agent-name").focus();
    return;
  }
  credentials.key = state.singleTenant ? "" : key;
  let ok = false;
  try {
    ok = await checkSession();
  } catch (err) {
    $("signin-error").textContent = err.message;
    return;
  }
  if (!ok) {
    credentials.key = "";
    $("signin-error").textContent = "That API key is not accepted by this service.";
    $("api-key").focus();
    return;
  }
  credentials.agent = agent;
  $("api-key").value = "";
  enterWorkspace();
}

function signOut() {
  stopLive();
  credentials.clear();
  state.items = [];
  state.selectedId = null;
  history.replaceState(null, "", location.pathname);
  document.body.classList.remove("has-detail");
  checkSession().catch(() => false).finally(() => showSignin());
}

function enterWorkspace() {
  $("signin").hidden = true;
  $("session").hidden = false;
  $("workspace").hidden = false;
  $("whoami").textContent = `${credentials.agent} · tenant ${state.tenant}`;
  startLive();
  route({ focus: false });
}

function authLost() {
  credentials.key = "";
  stopLive();
  showSignin("Your key is no longer accepted. Sign in again.");
}

// ------------------------------------------------------------------ queue

function filters() {
  return {
    statuses: STATUS_FILTERS[$("f-status").value] || [],
    queue: $("f-queue").value,
    priority: $("f-priority").value,
  };
}

async function loadQueue() {
  const seq = ++state.queueSeq; // a slower, older answer (filters changed meanwhile) is dropped
  try {
    const data = await api.handoffs(filters());
    if (seq !== state.queueSeq) return;
    state.items = data.items;
    $("queue-error").textContent = "";
  } catch (err) {
    if (err.status === 401) return authLost();
    if (seq !== state.queueSeq) return;
    $("queue-error").textContent = `The queue could not be loaded: ${err.message}`;
    return;
  }
  for (const h of state.items) state.queues.add(h.queue);
  renderQueueFilterOptions();
  renderQueue();
}

const RANK = { urgent: 3, high: 2, normal: 1, low: 0 };

function matchesFilters(h, f) {
  return (!f.statuses.length || f.statuses.includes(h.status)) && (!f.queue || h.queue === f.queue)
    && (!f.priority || h.priority === f.priority);
}

function byUrgency(a, b) { // the service's order: most urgent first, then oldest first
  return (RANK[b.priority] ?? 1) - (RANK[a.priority] ?? 1) || a.created_at.localeCompare(b.created_at)
    || a.id.localeCompare(b.id);
}

// A handoff that changed (from the live feed or an action's answer) goes into the list without a reload.
function applyHandoff(handoff) {
  if (!state.queues.has(handoff.queue)) {
    state.queues.add(handoff.queue);
    renderQueueFilterOptions();
  }
  const rest = state.items.filter((h) => h.id !== handoff.id);
  state.items = matchesFilters(handoff, filters()) ? [...rest, handoff].sort(byUrgency) : rest;
  renderQueue();
}

function renderQueueFilterOptions() {
  const select = $("f-queue");
  const present = new Set([...select.options].map((o) => o.value));
  for (const q of [...state.queues].sort()) {
    if (present.has(q)) continue;
    const option = document.createElement("option");
    option.value = q;
    option.textContent = words(q);
    select.append(option);
  }
}

function renderQueue() {
  const list = $("queue-list");
  const focusedId = list.contains(document.activeElement)
    ? document.activeElement.closest("li")?.dataset.id : null;
  const now = Date.now();
  const items = state.items.map((h) => {
    const li = queueItem(h, { selected: h.id === state.selectedId });
    if (!state.firstShown.has(h.id)) {
      state.firstShown.set(h.id, now);
      if (state.primed) li.classList.add("is-new");
    }
    li.dataset.firstShown = String(state.firstShown.get(h.id));
    return li;
  });
  list.replaceChildren(...items);
  state.primed = true;
  const waiting = state.items.filter((h) => h.status === "open").length;
  $("queue-count").textContent = `${state.items.length} shown · ${waiting} waiting`;
  $("queue-empty").hidden = state.items.length > 0;
  document.title = `${waiting ? `(${waiting}) ` : ""}Handoff queue · tactful agent console`;
  if (focusedId) list.querySelector(`li[data-id="${CSS.escape(focusedId)}"] a`)?.focus();
}

function onQueueKeys(event) {
  const links = [...$("queue-list").querySelectorAll(".queue-link")];
  const at = links.indexOf(document.activeElement);
  if (at < 0 || !links.length) return;
  const moves = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: links.length - 1 };
  if (!(event.key in moves)) return;
  event.preventDefault();
  links[Math.max(0, Math.min(links.length - 1, moves[event.key]))].focus();
}

function tickWaiting() {
  const byId = new Map(state.items.map((h) => [h.id, h]));
  for (const li of $("queue-list").children) {
    const h = byId.get(li.dataset.id);
    if (h) li.querySelector("[data-f=waiting]").textContent = waitingText(h);
  }
  const detailWait = $("detail-root").querySelector("[data-f=waiting]");
  if (detailWait && state.handoff) detailWait.textContent = waitingText(state.handoff);
}

// ------------------------------------------------------------------ live updates (SSE)

function setLive(kind, text) {
  $("live").dataset.state = kind;
  $("live-text").textContent = text;
}

function onStreamEvent(type, data) {
  if (type === "hello") {
    state.retryMs = 1000;
    setLive("live", "Live");
    loadQueue();
    if (state.selectedId) refreshDetail();
    return;
  }
  if (type === "conversation") {
    if (state.handoff && data.conversation_id === state.handoff.conversation_id) refreshDetail();
    return;
  }
  if (type !== "handoff") return;
  const h = data.handoff;
  if (data.kind === "created") {
    $("announcer").textContent =
      `New handoff: ${h.priority} priority, ${words(h.queue)} queue, ${reasonText(h.reason)}.`;
  }
  applyHandoff(h);
  if (h.id === state.selectedId) refreshDetail();
}

async function runLive(controller) {
  while (!controller.signal.aborted) {
    setLive("connecting", "Connecting…");
    try {
      await streamQueueEvents(onStreamEvent, controller.signal);
    } catch (err) {
      if (controller.signal.aborted) return;
      if (err instanceof ApiError && err.status === 401) return authLost();
    }
    if (controller.signal.aborted) return;
    setLive("down", "Reconnecting…");
    await new Promise((resolve) => setTimeout(resolve, state.retryMs));
    state.retryMs = Math.min(state.retryMs * 2, 15000);
  }
}

function startLive() {
  stopLive();
  state.stream = new AbortController();
  runLive(state.stream);
}

function stopLive() {
  if (state.stream) state.stream.abort();
  state.stream = null;
}

// ------------------------------------------------------------------ detail

function selectedFromHash() {
  const match = /^#\/handoffs\/([^/]+)$/.exec(location.hash);
  return match ? decodeURIComponent(match[1]) : null;
}

async function route({ focus = true } = {}) {
  state.selectedId = selectedFromHash();
  document.body.classList.toggle("has-detail", Boolean(state.selectedId));
  for (const link of document.querySelectorAll(".queue-link")) {
    if (link.closest("li").dataset.id === state.selectedId) link.setAttribute("aria-current", "true");
    else link.removeAttribute("aria-current");
  }
  if (!state.selectedId) {
    state.handoff = state.conversation = null;
    $("detail-root").replaceChildren();
    $("detail-placeholder").hidden = false;
    if (focus) $("queue-list").querySelector(".queue-link")?.focus();
    return;
  }
  await refreshDetail({ focus });
}

async function refreshDetail({ focus = false, status } = {}) {
  const id = state.selectedId;
  if (!id) return;
  const seq = ++state.detailSeq; // only the latest of overlapping refreshes renders
  if (status) state.pendingStatus = status;
  let handoff;
  let conversation = null;
  try {
    handoff = await api.handoff(id);
    conversation = await api.conversation(handoff.conversation_id);
  } catch (err) {
    if (err.status === 401) return authLost();
    if (id !== state.selectedId || seq !== state.detailSeq) return;
    $("detail-placeholder").hidden = false;
    $("detail-root").replaceChildren();
    $("detail-placeholder").querySelector("p").textContent = err.status === 404
      ? "This handoff does not exist for your tenant." : `The handoff could not be loaded: ${err.message}`;
    return;
  }
  if (id !== state.selectedId || seq !== state.detailSeq) return; // moved on, or a newer refresh is coming
  state.handoff = handoff;
  state.conversation = conversation;
  renderDetail({ focus, status: state.pendingStatus });
  state.pendingStatus = null;
}

function renderDetail({ focus, status }) {
  const root = $("detail-root");
  // Keep what the agent was typing and where the focus was across re-renders.
  const draft = root.querySelector("#reply-text")?.value || "";
  const note = root.querySelector("#close-note")?.value || "";
  const active = root.contains(document.activeElement) ? document.activeElement : null;
  const activeKey = active && (active.id || active.dataset.action);
  const previousStatus = root.querySelector("[data-f=action-status]");
  const view = detailView(state.handoff, state.conversation, { agent: credentials.agent });
  view.querySelector("#reply-text").value = draft;
  view.querySelector("#close-note").value = note;
  const statusNode = view.querySelector("[data-f=action-status]");
  if (status) {
    statusNode.textContent = status.text;
    statusNode.dataset.kind = status.kind;
  } else if (previousStatus && root.firstElementChild?.dataset.id === state.handoff.id) {
    statusNode.textContent = previousStatus.textContent;
    statusNode.dataset.kind = previousStatus.dataset.kind || "";
  }
  $("detail-placeholder").hidden = true;
  root.replaceChildren(view);
  if (focus) {
    $("detail-pane").scrollTop = 0;
    window.scrollTo(0, 0);
    view.querySelector("#detail-title").focus({ preventScroll: true });
  } else if (activeKey) {
    const again = view.querySelector(`#${CSS.escape(activeKey)}`) || view.querySelector(`[data-action="${activeKey}"]`);
    if (again && !again.disabled) again.focus();
    else if (again) view.querySelector("#detail-title").focus();
  }
}

const ACTIONS = {
  claim: {
    run: (h) => api.claim(h.id, credentials.agent),
    done: "Claimed. The conversation is yours; the bot stays silent.",
  },
  resolve: {
    run: (h, note) => api.resolve(h.id, credentials.agent, note),
    done: "Resolved. The handoff is closed.",
  },
  return: {
    run: (h, note) => api.returnToBot(h.id, credentials.agent, note),
    done: "Returned to the bot. It answers the customer's next message.",
  },
};

async function onDetailClick(event) {
  const button = event.target.closest("button[data-action]");
  if (!button || !state.handoff) return;
  const name = button.dataset.action;
  if (name === "back") {
    history.pushState(null, "", location.pathname);
    route();
    return;
  }
  if (name === "write") {
    $("reply-text").scrollIntoView({ block: "center" });
    $("reply-text").focus({ preventScroll: true });
    return;
  }
  if (name === "outcome") return recordOutcome(button.dataset.label);
  const action = ACTIONS[name];
  if (!action) return;
  const note = $("close-note")?.value.trim() || undefined;
  setBusy(true);
  try {
    applyHandoff(await action.run(state.handoff, note));
    if (name !== "claim") $("close-note").value = "";
    await refreshDetail({ status: { kind: "ok", text: action.done } });
  } catch (err) {
    if (err.status === 401) return authLost();
    await refreshDetail({ status: { kind: "error", text: `Could not ${name === "return" ? "return it" : name}: ${err.message}` } });
  } finally {
    setBusy(false);
  }
}

const OUTCOME_TEXT = {
  needed: "a person was needed",
  automatable: "the bot could have handled it",
  wrong_queue: "it went to the wrong queue",
  packet_missing: "the packet was missing something",
};

// One click: resolve the handoff if it is still open, then record what the person says of it.
async function recordOutcome(label) {
  const note = $("close-note")?.value.trim() || undefined;
  const handoff = state.handoff;
  setBusy(true);
  try {
    if (handoff.status === "open" || handoff.status === "claimed") {
      applyHandoff(await api.resolve(handoff.id, credentials.agent, note));
    }
    await api.feedback(handoff.id, credentials.agent, label, note);
    $("close-note").value = "";
    await refreshDetail({ status: { kind: "ok", text: `Resolved; recorded that ${OUTCOME_TEXT[label]}.` } });
  } catch (err) {
    if (err.status === 401) return authLost();
    await refreshDetail({ status: { kind: "error", text: `Could not record the outcome: ${err.message}` } });
  } finally {
    setBusy(false);
  }
}

async function onReply(event) {
  const form = event.target.closest("form[data-f=reply-form]");
  if (!form || !state.handoff) return;
  event.preventDefault();
  const box = form.querySelector("#reply-text");
  const text = box.value.trim();
  if (!text) {
    box.focus();
    return;
  }
  setBusy(true);
  try {
    applyHandoff(await api.reply(state.handoff.id, credentials.agent, text));
    box.value = "";
    await refreshDetail({ status: { kind: "ok", text: "Reply sent to the customer." } });
  } catch (err) {
    if (err.status === 401) return authLost();
    await refreshDetail({ status: { kind: "error", text: `The reply was not sent: ${err.message}` } });
  } finally {
    setBusy(false);
  }
  $("reply-text")?.focus();
}

function setBusy(busy) {
  const root = $("detail-root");
  root.setAttribute("aria-busy", String(busy));
  if (busy) for (const b of root.querySelectorAll("button")) b.disabled = true;
}

function onDetailKeys(event) {
  if (event.target.id === "reply-text" && event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    event.target.form.requestSubmit();
  }
}

function onGlobalKeys(event) {
  if (event.key === "Escape" && state.selectedId && document.body.classList.contains("has-detail")
      && getComputedStyle($("queue-pane")).display === "none") {
    history.pushState(null, "", location.pathname);
    route();
  }
}

// ------------------------------------------------------------------ start

async function boot() {
  $("signin-form").addEventListener("submit", onSignin);
  $("sign-out").addEventListener("click", signOut);
  $("filters").addEventListener("change", loadQueue);
  $("filters").addEventListener("submit", (e) => e.preventDefault());
  $("queue-list").addEventListener("keydown", onQueueKeys);
  $("detail-root").addEventListener("click", onDetailClick);
  $("detail-root").addEventListener("submit", onReply);
  $("detail-root").addEventListener("keydown", onDetailKeys);
  document.addEventListener("keydown", onGlobalKeys);
  window.addEventListener("hashchange", () => route());
  window.addEventListener("popstate", () => route());
  setInterval(tickWaiting, 30000);

  let ok = false;
  try {
    ok = await checkSession();
  } catch (err) {
    showSignin(err.message);
    return;
  }
  if (ok && credentials.agent) enterWorkspace();
  else showSignin();
}

boot();
