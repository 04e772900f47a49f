// Dispatch console: shows the queue, active calls by route, units and closed calls, kept live by
// the routing service's event stream, and moves calls through their lifecycle.
// No build step: plain JavaScript, the DOM API and fetch. Text from calls is only ever set with
// textContent, never parsed as HTML.
"use strict";

const KEY_STORAGE = "dispatch.apiKey";
const ACTIVE = ["assigned", "en_route", "on_scene"];
const ROUTES = ["clinician_only", "co_response", "police"];
const DISPOSITIONS = [
  "referred_to_services", "resolved_on_scene", "transported_voluntary", "transported_involuntary",
  "refused_services", "report_taken", "no_report", "arrest", "gone_on_arrival", "unfounded",
];
const STEP_LABELS = { en_route: "En route", on_scene: "On scene", resolved: "Resolve", cancelled: "Cancel call" };
const LABELS = {
  clinician_only: "Clinician only", co_response: "Co-response", police: "Police",
  clinician: "Clinician", queued: "Queued", assigned: "Assigned", en_route: "En route",
  on_scene: "On scene", resolved: "Resolved", cancelled: "Cancelled", available: "Available",
  dispatched: "Dispatched", out_of_service: "Out of service",
};

const label = (value) => {
  if (LABELS[value]) return LABELS[value];
  const words = String(value).replaceAll("_", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
};
const shortId = (id) => String(id).slice(0, 8);
const apiKey = () => localStorage.getItem(KEY_STORAGE) || "";
const languageNames = (() => {
  try { return new Intl.DisplayNames([navigator.language, "en"], { type: "language" }); } catch { return null; }
})();
const languageName = (code) => {
  try { return (languageNames && languageNames.of(code)) || code; } catch { return code; }
};

let source = null;
let refreshTimer = null;
let reconnectTimer = null;
let connectAttempt = 0;
let lastEventId = ""; // where a new connection resumes, so nothing is missed across reconnects

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name === "onclick") node.addEventListener("click", value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function notice(message) {
  const box = document.getElementById("notice");
  box.textContent = message || "";
  box.hidden = !message;
}

async function api(path, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  if (apiKey()) headers.Authorization = `Bearer ${apiKey()}`;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { ...options, headers });
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (response.status === 401 || response.status === 403) {
    notice("Enter an API key with the console role, then Connect.");
  }
  if (!response.ok) {
    const detail = body && body.detail;
    const message = typeof detail === "string" ? detail
      : detail && detail.message ? detail.message
      : Array.isArray(detail) ? detail.map((d) => `${d.loc.slice(1).join(".")}: ${d.msg}`).join("; ")
      : `HTTP ${response.status}`;
    throw Object.assign(new Error(message), { status: response.status });
  }
  return body;
}

function minutesAgo(iso) {
  const minutes = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 60000));
  const time = new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return `${time} (${minutes} min ago)`;
}

function indicatorList(decision) {
  if (!decision) return null;
  const list = el("ul", { class: "indicators", "aria-label": "Indicators" });
  for (const ind of decision.indicators) {
    list.append(el("li", { text: `${ind.family} ${ind.code}: “${ind.text}”`, title: `from ${ind.source}` }));
  }
  for (const ind of decision.negated) {
    list.append(el("li", { class: "negated", text: `not ${ind.code}: “${ind.text}”`, title: "negated" }));
  }
  return list.childElementCount ? list : null;
}

function actions(call) {
  const box = el("div", { class: "actions" });
  const error = el("p", { class: "error", role: "alert", hidden: true });
  let disposition = null;
  let force = null;
  if (call.allowed_transitions.includes("resolved")) {
    const selectId = `disposition-${call.call_id}`;
    disposition = el("select", { id: selectId, name: "disposition" });
    for (const value of DISPOSITIONS) disposition.append(el("option", { value, text: label(value) }));
    force = el("input", { id: `force-${call.call_id}`, type: "checkbox", name: "use_of_force" });
    box.append(el("label", { for: selectId, text: "Disposition" }), disposition,
      el("label", { class: "check" }, force, " Force used"));
  }
  for (const step of call.allowed_transitions) {
    const button = el("button", {
      type: "button",
      id: `${step}-${call.call_id}`,
      class: step === "cancelled" ? "secondary" : null,
      "data-action": step,
      "aria-label": `${STEP_LABELS[step]} call ${shortId(call.call_id)}`,
      text: STEP_LABELS[step],
    });
    button.addEventListener("click", async () => {
      const body = { status: step };
      if (step === "resolved") {
        body.disposition = disposition.value;
        body.use_of_force = force.checked;
      }
      for (const b of box.querySelectorAll("button")) b.disabled = true;
      try {
        await api(`/v1/calls/${call.call_id}/status`, { method: "POST", body: JSON.stringify(body) });
        error.hidden = true;
        await refresh();
      } catch (failure) {
        error.textContent = failure.message;
        error.hidden = false;
        for (const b of box.querySelectorAll("button")) b.disabled = false;
      }
    });
    box.append(button);
  }
  const wrapper = el("div", {}, box, error);
  return call.allowed_transitions.length ? wrapper : null;
}

function languageBadge(call) {
  if (!call.language) return null;
  const known = call.language !== "und";
  const name = known ? languageName(call.language) : "unknown language";
  return el("span", {
    class: "badge language",
    "data-field": "language",
    title: `Language: ${name}`,
    "aria-label": `Language: ${name}`,
    text: known ? call.language.toUpperCase() : "Language ?",
  });
}

function callCard(call) {
  const flags = [];
  if (call.fallback_used) flags.push("fallback unit");
  if (call.clinician_followup) flags.push("clinician follow-up");
  if (call.ems_required) flags.push("EMS");
  if (call.needs_review && !call.needs_interpreter) flags.push("needs review");
  const where = call.location
    ? call.location.address || `${call.location.lat?.toFixed(4)}, ${call.location.lon?.toFixed(4)}`
    : "no location";
  const unitText = (u) => `${u.unit_id} (${label(u.type)})${u.distance_km != null ? `, ${u.distance_km.toFixed(1)} km` : ""}`;
  // The primary unit first, then the units a later triage revision added.
  const units = call.units && call.units.length ? call.units : call.unit ? [{ ...call.unit, distance_km: call.distance_km }] : [];
  const unit = units.length
    ? units.map((u) => unitText(u) + (u.role === "added" ? " added" : "")).join(" · ")
    : "no unit yet";
  if (call.revision > 1) flags.push(`revision ${call.revision}`);
  return el("li", { class: "card", id: `call-${call.call_id}`, "data-status": call.status, "data-priority": call.priority },
    el("div", { class: "card-head" },
      el("span", { class: "call-id", text: shortId(call.call_id), title: call.call_id }),
      el("span", { class: `badge priority-${call.priority}`, text: `P${call.priority}` }),
      el("span", { class: "badge status", "data-field": "status", text: label(call.status) }),
      el("span", { class: "badge", text: label(call.route) }),
      languageBadge(call),
      call.needs_interpreter
        ? el("span", { class: "badge interpreter", "data-field": "interpreter", text: "Needs interpreter / review" })
        : null,
      ...flags.map((flag) => el("span", { class: "badge flag", text: flag })),
    ),
    el("p", { class: "meta", text: `Threat ${call.threat_level || "unknown"} · ${where} · received ${minutesAgo(call.received_at)}` }),
    el("p", { class: "meta", "data-field": "unit", text: `${units.length > 1 ? "Units" : "Unit"}: ${unit}` }),
    call.staging
      ? el("p", { class: "alert", "data-field": "staging", text: "Clinician team: stage at a safe distance until police clear the scene" })
      : null,
    call.awaiting_route
      ? el("p", { class: "alert", "data-field": "awaiting", text: `Waiting for a ${label(call.awaiting_route)} unit` })
      : null,
    call.suggested_route
      ? el("p", { class: "meta suggested", "data-field": "suggested", text: `Suggested: ${label(call.suggested_route)} (units stay until a dispatcher decides)` })
      : null,
    call.decision ? el("p", { class: "explanation", text: call.decision.explanation }) : null,
    indicatorList(call.decision),
    actions(call),
  );
}

function fill(list, items, render, emptyText) {
  // Rebuild only what changed (or once a minute, for the "min ago" times), so a button is not
  // replaced under the dispatcher's pointer by an unrelated update.
  const signature = JSON.stringify(items) + Math.floor(Date.now() / 60000);
  if (list.dataset.signature === signature) return;
  list.dataset.signature = signature;
  list.replaceChildren(...(items.length ? items.map(render) : [el("li", { class: "empty", text: emptyText })]));
}

function keepingInput(draw) {
  // A re-render must not undo what the dispatcher is doing: keep chosen values and focus.
  const values = new Map([...document.querySelectorAll("main select, main input")]
    .map((input) => [input.id, input.type === "checkbox" ? input.checked : input.value]));
  const focused = document.activeElement && document.activeElement.id;
  draw();
  for (const [id, value] of values) {
    const input = document.getElementById(id);
    if (!input) continue;
    if (input.type === "checkbox") input.checked = value;
    else input.value = value;
  }
  if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
}

function renderUnits(units) {
  const rows = document.getElementById("units");
  const signature = JSON.stringify(units);
  if (rows.dataset.signature === signature) return;
  rows.dataset.signature = signature;
  rows.replaceChildren(...units.map((u) => el("tr", { id: `unit-${u.unit_id}` },
    el("td", {}, el("strong", { text: u.unit_id }), ` ${u.name}`),
    el("td", { text: label(u.type) }),
    el("td", { class: `status-${u.status}`, "data-field": "status", text: label(u.status) }),
    el("td", { text: u.current_call_id ? shortId(u.current_call_id) : "—" }),
  )));
}

function render(open, closed, units) {
  const queued = open.filter((c) => c.status === "queued");
  fill(document.getElementById("queue"), queued, callCard, "No calls waiting.");
  document.getElementById("queue-count").textContent = queued.length;
  for (const route of ROUTES) {
    const calls = open.filter((c) => c.route === route && ACTIVE.includes(c.status));
    fill(document.getElementById(`route-${route}`), calls, callCard, "None active.");
    document.querySelector(`.route[data-route="${route}"] .count`).textContent = calls.length;
  }
  renderUnits(units);
  fill(document.getElementById("closed"), closed, (c) => el("li", { id: `closed-${c.call_id}`,
    text: `${shortId(c.call_id)} ${label(c.route)}: ${label(c.status)}${c.disposition ? ` — ${label(c.disposition)}` : ""}${c.use_of_force ? " (force used)" : ""}` }),
  "Nothing closed yet.");
}

async function refresh() {
  try {
    const openQuery = ["queued", ...ACTIVE].map((s) => `status=${s}`).join("&");
    const [open, closed, units] = await Promise.all([
      api(`/v1/calls?${openQuery}&limit=500`),
      api("/v1/calls?status=resolved&status=cancelled&order=recent&limit=10"),
      api("/v1/units"),
    ]);
    keepingInput(() => render(open.items, closed.items, units.items));
    notice("");
  } catch (failure) {
    if (!document.getElementById("notice").textContent) notice(`Could not load: ${failure.message}`);
  }
}

function scheduleRefresh() {
  // Events come in bursts (a call routed, its unit dispatched): one reload per burst.
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, 150);
}

function logEvent(kind, data) {
  const log = document.getElementById("events");
  const what = kind === "unit.status"
    ? `unit ${data.unit_id} ${label(data.status)}`
    : `call ${shortId(data.call_id)} ${label(data.status)}${data.unit ? ` → ${data.unit.unit_id}` : ""}`;
  log.prepend(el("li", { text: `${new Date().toLocaleTimeString()} ${what}` }));
  while (log.childElementCount > 50) log.lastElementChild.remove();
}

function setConnection(state, text) {
  const badge = document.getElementById("connection");
  badge.dataset.state = state;
  badge.textContent = text;
}

function reconnectLater() {
  clearTimeout(reconnectTimer);
  reconnectTimer = setTimeout(connect, 3000);
}

async function connect() {
  // EventSource cannot send headers, and a key must never sit in a URL: the key buys a
  // short-lived stream token (POST with the Authorization header), and the URL carries that.
  if (source) source.close();
  source = null;
  clearTimeout(reconnectTimer);
  const attempt = ++connectAttempt;
  if (!apiKey()) {
    setConnection("offline", "Not connected");
    return;
  }
  let token;
  try {
    token = (await api("/v1/stream/token", { method: "POST" })).token;
  } catch (failure) {
    setConnection("offline", "Not connected");
    if (failure.status !== 401 && failure.status !== 403) reconnectLater(); // a wrong key waits for a new one
    return;
  }
  if (attempt !== connectAttempt) return; // a newer connect() took over meanwhile
  const query = new URLSearchParams({ token });
  if (lastEventId) query.set("last_event_id", lastEventId);
  source = new EventSource(`/v1/stream?${query}`);
  source.addEventListener("open", () => {
    setConnection("live", "Live");
    refresh(); // anything that happened while disconnected
  });
  source.addEventListener("error", (event) => {
    setConnection("reconnecting", "Reconnecting…");
    // The browser retries by itself with the same URL; once it gives up (an expired token is
    // refused), buy a new token and resume from the last event seen.
    if (event.target.readyState === EventSource.CLOSED && event.target === source) reconnectLater();
  });
  for (const kind of ["call.routed", "call.status", "unit.status"]) {
    source.addEventListener(kind, (event) => {
      if (event.lastEventId) lastEventId = event.lastEventId;
      logEvent(kind, JSON.parse(event.data));
      scheduleRefresh();
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const input = document.getElementById("api-key");
  input.value = apiKey();
  document.getElementById("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    localStorage.setItem(KEY_STORAGE, input.value.trim());
    notice("");
    connect();
    refresh();
  });
  connect();
  refresh();
  setInterval(refresh, 30000); // times shown as "min ago" stay current
});
