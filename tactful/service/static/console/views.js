// Build the queue items and the detail view from templates; every value goes in as text, never as HTML.

import { trendChart } from "./chart.js";
import {
  money, mood, percent, reasonText, roleText, statusText, timeText, waitingText, words,
} from "./format.js";

function fields(root) {
  const out = {};
  for (const node of root.querySelectorAll("[data-f]")) out[node.dataset.f] = node;
  return out;
}

function setMood(node, trend) {
  const m = mood(trend);
  node.dataset.level = m.level;
  node.textContent = m.text;
  node.title = `Frustration ${m.frustration.toFixed(2)}`;
}

function setPriority(node, priority) {
  node.dataset.priority = priority;
  node.textContent = priority;
}

export function queueItem(handoff, { selected }) {
  const fragment = document.getElementById("queue-item-template").content.cloneNode(true);
  const li = fragment.querySelector("li");
  const f = fields(li);
  li.dataset.id = handoff.id;
  li.dataset.priority = handoff.priority;
  li.dataset.status = handoff.status;
  f.link.href = `#/handoffs/${encodeURIComponent(handoff.id)}`;
  if (selected) f.link.setAttribute("aria-current", "true");
  setPriority(f.priority, handoff.priority);
  f.queue.textContent = words(handoff.queue);
  f.waiting.textContent = waitingText(handoff);
  f.reason.textContent = reasonText(handoff.reason);
  setMood(f.mood, handoff.packet.sentiment_trend);
  f.status.textContent = handoff.assignee && handoff.status === "claimed"
    ? `Claimed by ${handoff.assignee}` : statusText(handoff.status);
  const account = handoff.packet.account || {};
  const name = account.name || account.account_id;
  f.who.textContent = [name, account.tier && words(account.tier), account.value && `value ${money(account.value)}`]
    .filter(Boolean).join(" · ");
  f.who.hidden = !f.who.textContent;
  f.link.setAttribute("aria-label", [
    `${handoff.priority} priority`, words(handoff.queue), reasonText(handoff.reason),
    `customer ${mood(handoff.packet.sentiment_trend).text}`, f.waiting.textContent, f.status.textContent,
    name ? `account ${name}` : "",
  ].filter(Boolean).join(", "));
  return li;
}

const ACCOUNT_FIELDS = [
  ["name", "Name"], ["account_id", "Account"], ["tier", "Tier"], ["value", "Annual value"],
  ["lifecycle_stage", "Stage"], ["prior_escalations", "Prior escalations"], ["channel", "Channel"],
  ["device", "Device"], ["locale", "Locale"], ["return_visit", "Return visit"], ["sla_at_risk", "SLA at risk"],
];

// The tenant's own attributes (region, role, plan...) follow the known fields, labelled from their names.
function accountFields(account) {
  const known = new Set(ACCOUNT_FIELDS.map(([key]) => key));
  const own = Object.keys(account).filter((key) => !known.has(key)).sort()
    .map((key) => [key, words(key)]);
  return [...ACCOUNT_FIELDS, ...own];
}

function accountList(dl, account) {
  dl.replaceChildren();
  let shown = 0;
  for (const [key, label] of accountFields(account)) {
    const value = account[key];
    if (value === undefined || value === null || value === "") continue;
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    if (typeof value === "boolean") dd.textContent = value ? "yes" : "no";
    else if (key === "value") dd.textContent = money(value);
    else dd.textContent = key === "tier" || key === "lifecycle_stage" ? words(value) : String(value);
    dl.append(dt, dd);
    shown += 1;
  }
  if (!shown) {
    const dd = document.createElement("dd");
    dd.textContent = "No account details were sent with this conversation.";
    dl.append(dd);
  }
}

function transcript(ol, messages) {
  ol.replaceChildren();
  for (const m of messages) {
    const li = document.createElement("li");
    li.className = "msg";
    li.dataset.role = m.role;
    const who = document.createElement("p");
    who.className = "msg-who";
    const name = document.createElement("strong");
    name.textContent = roleText(m.role);
    const when = document.createElement("time");
    when.dateTime = m.at;
    when.textContent = timeText(m.at);
    who.append(name, when);
    const text = document.createElement("p");
    text.className = "msg-text";
    text.textContent = m.text;
    li.append(who, text);
    ol.append(li);
  }
}

function frustrationHistory(handoff, conversation) {
  const live = conversation && conversation.state && conversation.state.sentiment;
  if (live && Array.isArray(live.history) && live.history.length) {
    return { values: live.history.map((h) => h.frustration), trend: live.trend };
  }
  const packet = handoff.packet.sentiment_trend || {};
  return { values: Array.isArray(packet.history) ? packet.history : [], trend: packet.trend };
}

export function detailView(handoff, conversation, { agent }) {
  const fragment = document.getElementById("detail-template").content.cloneNode(true);
  const root = fragment.querySelector("article");
  const f = fields(root);
  const packet = handoff.packet;
  const account = packet.account || {};
  const who = account.name || account.account_id || `conversation ${handoff.conversation_id}`;

  root.dataset.id = handoff.id;
  root.dataset.status = handoff.status;
  f.title.textContent = `${reasonText(handoff.reason)} — ${who}`;
  setPriority(f.priority, handoff.priority);
  f.queue.textContent = `${words(handoff.queue)} queue`;
  f.status.textContent = handoff.assignee ? `${statusText(handoff.status)} by ${handoff.assignee}`
    : statusText(handoff.status);
  f.mode.textContent = conversation ? (conversation.mode === "human" ? "human" : "bot") : "unknown";
  f.mode.dataset.mode = conversation ? conversation.mode : "";
  f.waiting.textContent = waitingText(handoff);

  f.summary.textContent = packet.summary || "No summary.";
  f.reason.textContent = reasonText(handoff.reason);
  f["reason-code"].textContent = handoff.reason;
  f["next-step"].textContent = packet.recommended_next_step || "Review the summary and continue the conversation.";

  const intent = packet.intent;
  if (intent) {
    f.intent.textContent = intent.out_of_scope ? "Out of scope" : words(intent.label);
    const parts = [`risk ${intent.risk}`, `${percent(intent.confidence)} sure`];
    if (intent.runner_up) parts.push(`runner-up ${words(intent.runner_up.label)} (${percent(intent.runner_up.confidence)})`);
    f["intent-sub"].textContent = parts.join(" · ");
  } else {
    f.intent.textContent = "Not classified";
  }
  f["confidence-meter"].value = Number(packet.confidence) || 0;
  f.confidence.textContent = percent(packet.confidence);
  f.completeness.textContent = packet.missing && packet.missing.length
    ? `Packet ${percent(packet.completeness)} complete; missing: ${packet.missing.map(words).join(", ")}`
    : `Packet ${percent(packet.completeness)} complete`;

  const history = frustrationHistory(handoff, conversation);
  f.chart.append(trendChart(history.values, history.trend));
  const m = mood(packet.sentiment_trend);
  const worst = Number((packet.sentiment_trend || {}).worst) || 0;
  f.sentiment.textContent = `${m.text}; frustration ${m.frustration.toFixed(2)}, worst ${worst.toFixed(2)}`;

  accountList(f.account, account);
  f.tried.replaceChildren(...(packet.tried || []).map((t) => {
    const li = document.createElement("li");
    li.textContent = t;
    return li;
  }));
  transcript(f.transcript, conversation ? conversation.messages : packet.transcript || []);
  f.agent.textContent = agent;

  const open = handoff.status === "open" || handoff.status === "claimed";
  const mine = handoff.status === "claimed" && handoff.assignee === agent;
  const claim = root.querySelector('[data-action="claim"]');
  claim.disabled = handoff.status !== "open";
  if (mine) claim.textContent = "Claimed by you";
  else if (handoff.status === "claimed") claim.textContent = `Claimed by ${handoff.assignee}`;
  root.querySelector('[data-action="resolve"]').disabled = !open;
  root.querySelector('[data-action="return"]').disabled = !open;
  root.querySelector('[data-action="write"]').disabled = !open;
  for (const control of f["reply-form"].querySelectorAll("textarea, button")) control.disabled = !open;
  if (!open) {
    f["reply-form"].querySelector("#reply-help").textContent =
      "This handoff is closed; the bot (or nobody) answers this conversation now.";
  }
  return root;
}
