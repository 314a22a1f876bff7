// Plain-language labels for the packet's codes and numbers.

const REASONS = {
  human_requested: "The customer asked for a person",
  sensitive_topic: "Sensitive topic",
  escalation_trigger: "An escalation trigger fired",
  high_risk_intent: "High-risk request",
  high_value_friction: "High-value account in trouble",
  frustration: "High frustration",
  frustration_rising: "Frustration is rising",
  answer_did_not_help: "The bot's answer did not help",
  repeated_failure: "The bot's answers failed twice",
  restated_issue: "The customer restated the same issue",
  prompt_injection: "Attempt to change the bot's rules",
  turn_budget: "The conversation ran too long for the bot",
  trend_value: "High-value account getting more frustrated",
  out_of_scope: "Outside what the bot handles",
  unauthorized_promise: "The draft reply promised something the bot may not",
  legal_statement: "The draft reply made a legal statement",
  system_text_leak: "The draft reply leaked system text",
  pii_leak: "The draft reply contained personal data",
  unsafe_output: "The bot's draft was blocked",
  default: "Handed off",
};

const STATUSES = { open: "Waiting", claimed: "Claimed", resolved: "Resolved", returned: "Returned to bot" };
const ROLES = { user: "Customer", bot: "Bot", human_agent: "Agent", system: "System" };

const SPECIAL_WORDS = { vip: "VIP", sla: "SLA", mfa: "MFA", api: "API" };

export function words(code) {
  const raw = String(code ?? "");
  if (SPECIAL_WORDS[raw.toLowerCase()]) return SPECIAL_WORDS[raw.toLowerCase()];
  const text = raw.replace(/[_-]+/g, " ").trim();
  return text ? text[0].toUpperCase() + text.slice(1) : "";
}

export function reasonText(code) {
  const raw = String(code || "default");
  const [base, detail] = raw.split(":", 2);
  const label = REASONS[raw] || REASONS[base] || words(base);
  return detail ? `${label}: ${words(detail).toLowerCase()}` : label;
}

export const statusText = (status) => STATUSES[status] || words(status);
export const roleText = (role) => ROLES[role] || words(role);
export const percent = (value) => `${Math.round((Number(value) || 0) * 100)}%`;

export function sinceText(iso, now = Date.now()) {
  const start = Date.parse(iso);
  if (Number.isNaN(start)) return "";
  const minutes = Math.max(0, Math.floor((now - start) / 60000));
  if (minutes < 1) return "under 1 min";
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} days`;
}

export function waitingText(handoff, now = Date.now()) {
  if (handoff.status === "resolved" || handoff.status === "returned") {
    return `closed after ${sinceText(handoff.created_at, Date.parse(handoff.closed_at || handoff.updated_at))}`;
  }
  return `waiting ${sinceText(handoff.created_at, now)}`;
}

export function timeText(iso) {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return "";
  return at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// Sentiment marker: a level for colour and a text label that carries the same information.
export function mood(trend) {
  const t = trend || {};
  const label = String(t.label || "calm");
  const frustration = Number(t.frustration) || 0;
  let level = "good";
  if (label === "distressed" || frustration >= 0.75) level = "worse";
  else if (label === "frustrated" || frustration >= 0.5) level = "bad";
  else if (label === "negative" || frustration >= 0.25) level = "warn";
  const arrow = { rising: "rising", falling: "easing", steady: "steady" }[t.trend] || "steady";
  return { level, text: `${label}, ${arrow}`, frustration };
}

export function money(value) {
  const n = Number(value);
  if (!Number.isFinite(n)) return String(value);
  return n.toLocaleString(undefined, { maximumFractionDigits: 0 });
}
