// Dispatch console: shows the queue, active calls by route, units and closed calls, kept live by
// the routing service's event stream, and moves calls through their lifecycle. Each card tells what
// changed on its call and why (re-triage, backup, overrides); a dispatcher accepts or dismisses a
// suggested route and overrides the system's routing from the card.
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
// Why a dispatcher overrules the system: the API's fixed vocabulary (OverrideReason).
const OVERRIDE_REASONS = [
  "caller_history", "officer_safety", "clinician_request", "no_unit_of_type", "dispatcher_judgment", "other",
];
const DISMISSED_STORAGE = "dispatch.dismissedSuggestions";
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

// What this console holds beyond the API's answers; a card is redrawn from them too.
const routeLog = new Map(); // call id -> re-triage CallRouted events seen live, with the route before
const knownRoutes = new Map(); // call id -> route last shown, to tell what a live event changed
const openForms = new Set(); // call ids whose override form is open
const formErrors = new Map(); // call id (override form) or "suggestion-" + id -> the server's last refusal
let localVersion = 0; // grows when any of the above changes what a card shows

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
      : Array.isArray(detail) ? detail.map((d) => [d.loc.slice(1).join("."), d.msg].filter(Boolean).join(": ")).join("; ")
      : `HTTP ${response.status}`;
    throw Object.assign(new Error(message), { status: response.status });
  }
  return body;
}

function clock(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function minutesAgo(iso) {
  const minutes = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 60000));
  return `${clock(iso)} (${minutes} min ago)`;
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

function actions(call, ...extra) {
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
  box.append(...extra.filter(Boolean));
  const wrapper = el("div", {}, box, error);
  return box.childElementCount ? wrapper : null;
}

function showError(node, message) {
  node.textContent = message || "";
  node.hidden = !message;
}

async function sendOverride(call, body, controls, errorKey, errorNode) {
  // The version the card was drawn from goes along: a call changed since answers 409.
  for (const control of controls) control.disabled = true;
  try {
    await api(`/v1/calls/${call.call_id}/override`, {
      method: "POST",
      body: JSON.stringify({ ...body, version: call.version }),
    });
    formErrors.delete(errorKey);
    showError(errorNode, "");
    return true;
  } catch (failure) {
    formErrors.set(errorKey, failure.message);
    showError(errorNode, failure.message);
    for (const control of controls) control.disabled = false;
    return false;
  }
}

function dismissedSuggestions() {
  try {
    return new Set(JSON.parse(sessionStorage.getItem(DISMISSED_STORAGE) || "[]"));
  } catch {
    return new Set();
  }
}

// A dismissal holds for that revision's suggestion only: a later revision suggesting again shows.
const suggestionKey = (call) => `${call.call_id}:${call.revision}:${call.suggested_route}`;

function suggestion(call) {
  if (!call.suggested_route || dismissedSuggestions().has(suggestionKey(call))) return null;
  const id = call.call_id;
  const errorKey = `suggestion-${id}`;
  const error = el("p", { class: "error", role: "alert", id: `suggestion-error-${id}` });
  showError(error, formErrors.get(errorKey));
  const accept = el("button", {
    type: "button", id: `accept-${id}`, "data-action": "accept",
    "aria-label": `Accept ${label(call.suggested_route)} for call ${shortId(id)}`, text: "Accept",
  });
  const dismiss = el("button", {
    type: "button", id: `dismiss-${id}`, class: "secondary", "data-action": "dismiss",
    "aria-label": `Dismiss the suggestion for call ${shortId(id)}`, text: "Dismiss",
    title: "Hide it on this console; nothing is recorded",
  });
  const box = el("div", { "data-field": "suggested" },
    el("p", { class: "meta suggested",
      text: `Suggested: ${label(call.suggested_route)} by revision ${call.revision} (units stay until a dispatcher decides)` }),
    el("div", { class: "actions" }, accept, dismiss),
    error,
  );
  accept.addEventListener("click", async () => {
    const body = { route: call.suggested_route, reason: "dispatcher_judgment" };
    if (await sendOverride(call, body, [accept, dismiss], errorKey, error)) await refresh();
  });
  dismiss.addEventListener("click", () => {
    const keys = [...dismissedSuggestions(), suggestionKey(call)].slice(-200);
    sessionStorage.setItem(DISMISSED_STORAGE, JSON.stringify(keys));
    formErrors.delete(errorKey);
    box.hidden = true;
  });
  return box;
}

function overrideForm(call) {
  // The toggle goes in the card's action row; the form opens below it and stays open across
  // live redraws (openForms), its values kept by keepingInput.
  const id = call.call_id;
  const field = (name) => `override-${name}-${id}`;
  const route = el("select", { id: field("route"), name: "route" },
    el("option", { value: "", text: `Keep ${label(call.route)}` }),
    ...ROUTES.map((value) => el("option", { value, text: label(value) })));
  const unit = el("input", {
    id: field("unit"), name: "unit_id", type: "text", size: 8, maxlength: 64,
    autocomplete: "off", spellcheck: "false", placeholder: "optional",
  });
  const reason = el("select", { id: field("reason"), name: "reason", required: true },
    el("option", { value: "", text: "Choose…" }),
    ...OVERRIDE_REASONS.map((value) => el("option", { value, text: label(value) })));
  const notes = el("textarea", { id: field("notes"), name: "notes", rows: 2, cols: 28, maxlength: 2000 });
  const submit = el("button", { type: "submit", id: field("submit"), text: "Apply override" });
  const close = el("button", { type: "button", id: field("close"), class: "secondary", text: "Close" });
  const error = el("p", { class: "error", role: "alert", id: field("error") });
  showError(error, formErrors.get(id));
  const form = el("form", { id: `override-form-${id}`, class: "actions", "aria-label": `Override call ${shortId(id)}` },
    el("label", { for: route.id, text: "Route" }), route,
    el("label", { for: unit.id, text: "Unit" }), unit,
    el("label", { for: reason.id, text: "Reason" }), reason,
    el("label", { for: notes.id, text: "Notes" }), notes,
    submit, close);
  const panel = el("div", { id: field("panel"), "data-field": "override-form", hidden: !openForms.has(id) }, form, error);
  const toggle = el("button", {
    type: "button", id: `override-${id}`, class: "secondary", "data-action": "override",
    "aria-controls": panel.id, "aria-expanded": String(openForms.has(id)),
    "aria-label": `Override call ${shortId(id)}`, text: "Override",
  });
  const setOpen = (open) => {
    if (open) openForms.add(id);
    else openForms.delete(id);
    panel.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
  };
  toggle.addEventListener("click", () => {
    setOpen(panel.hidden);
    if (!panel.hidden) route.focus();
  });
  close.addEventListener("click", () => {
    setOpen(false);
    formErrors.delete(id);
    showError(error, "");
    toggle.focus();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { reason: reason.value };
    if (route.value) body.route = route.value;
    if (unit.value.trim()) body.unit_id = unit.value.trim();
    if (notes.value.trim()) body.notes = notes.value.trim();
    if (await sendOverride(call, body, [submit, close], id, error)) {
      form.reset(); // so the redraw below does not carry the values over
      setOpen(false);
      await refresh();
    }
  });
  return { toggle, panel };
}

function liveChange(seen) {
  // A re-triage CallRouted the console saw arrive, against the route it showed before.
  const rise = seen.from ? ROUTES.indexOf(seen.route) - ROUTES.indexOf(seen.from) : 0;
  const parts = [];
  if (seen.status === "queued") parts.push(`queued for ${label(seen.route)}`);
  else if (rise > 0) parts.push(`escalated to ${label(seen.route)}`);
  else if (rise < 0) parts.push(`re-routed to ${label(seen.route)}`);
  if (seen.unit) parts.push(`${seen.unit.unit_id} (${label(seen.unit.type)}) sent`);
  if (!parts.length) parts.push(`${label(seen.route)} kept`);
  return `rev ${seen.revision}: ${parts.join(", ")} (re_triaged)`;
}

function changeNotes(call) {
  // What changed on the call and why, oldest first: re-triages (seen live, or the units they
  // added), backup from the field, dispatchers' overrides, and the latest revision's reading.
  const notes = [];
  const unitsSeen = new Set();
  for (const seen of routeLog.get(call.call_id) || []) {
    if (seen.unit) unitsSeen.add(seen.unit.unit_id);
    notes.push({ at: seen.routed_at, kind: "re_triaged", text: liveChange(seen) });
  }
  for (const unit of call.units || []) {
    if (unit.role !== "added") continue;
    const what = `${unit.unit_id} (${label(unit.type)})`;
    if (unit.backup_reason) {
      notes.push({ at: unit.assigned_at, kind: "backup", text: `backup: ${what} sent — “${unit.backup_reason}” (backup)` });
    } else if (!unitsSeen.has(unit.unit_id)) {
      const rev = unit.revision ? `rev ${unit.revision}` : "re-triage";
      notes.push({ at: unit.assigned_at, kind: "re_triaged", text: `${rev}: ${what} added (re_triaged)` });
    }
  }
  for (const record of call.overrides || []) {
    const route = record.from_route === record.to_route
      ? `${label(record.to_route)} kept`
      : `${label(record.from_route)} → ${label(record.to_route)}`;
    const unit = record.from_unit_id !== record.to_unit_id
      ? `, unit ${record.from_unit_id || "none"} → ${record.to_unit_id || "none"}`
      : "";
    const released = (record.released_unit_ids || []).length
      ? `, ${record.released_unit_ids.join(", ")} released`
      : "";
    const notesText = record.notes ? ` — “${record.notes}”` : "";
    notes.push({ at: record.overridden_at, kind: "override",
      text: `override: ${route}${unit}${released} (${record.reason}) by ${record.by}${notesText}` });
  }
  const latest = `rev ${call.revision}:`;
  const suggesting = call.suggested_route && !dismissedSuggestions().has(suggestionKey(call));
  if (call.revision > 1 && !suggesting && !notes.some((note) => note.text.startsWith(latest))) {
    // Nothing else tells of the latest revision: say what triage read, and no more (not when).
    const read = call.decision ? call.decision.route : call.route;
    notes.push({ at: null, kind: "re_triaged", text: `rev ${call.revision} (latest): triage reads ${label(read)}` });
  }
  const time = (note) => (note.at ? Date.parse(note.at) : Infinity);
  return notes.sort((a, b) => time(a) - time(b));
}

function changeList(call) {
  const notes = changeNotes(call);
  if (!notes.length) return null;
  return el("ul", { class: "meta", "data-field": "revisions", "aria-label": "What changed" },
    ...notes.map((note) => el("li", { "data-kind": note.kind, text: note.text })));
}

function backupBadge(call) {
  const reasons = (call.units || []).filter((u) => u.backup_reason).map((u) => u.backup_reason);
  if (call.awaiting_backup) reasons.push(call.awaiting_backup);
  if (!reasons.length) return null;
  return el("span", {
    class: "badge flag",
    "data-field": "backup",
    "data-waiting": call.awaiting_backup ? "true" : null,
    title: `Backup requested: ${reasons.join("; ")}`,
    text: "Backup requested",
  });
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

function unitLine(units) {
  // The units on the call, then those an override (or the call closing) released: struck
  // through, greyed and saying so with the time, so the text alone tells they have left.
  const onCall = units.filter((u) => !u.released_at);
  const released = units.filter((u) => u.released_at);
  const unitText = (u) => `${u.unit_id} (${label(u.type)})${u.distance_km != null ? `, ${u.distance_km.toFixed(1)} km` : ""}`;
  const parts = [];
  for (const u of onCall) {
    if (parts.length) parts.push(" · ");
    parts.push(unitText(u) + (u.role === "added" ? (u.backup_reason ? " backup" : " added") : ""));
  }
  if (!onCall.length) parts.push("no unit yet");
  for (const u of released) {
    parts.push(" · ", el("span", {
      class: "released", "data-released": u.unit_id, title: `Left the call at ${clock(u.released_at)}`,
      text: `${u.unit_id} (${label(u.type)}) released ${clock(u.released_at)}`,
    }));
  }
  return el("p", { class: "meta", "data-field": "unit" }, `${onCall.length > 1 ? "Units" : "Unit"}: `, ...parts);
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
  // The primary unit first, then the units a later triage revision added.
  const units = call.units && call.units.length ? call.units : call.unit ? [{ ...call.unit, distance_km: call.distance_km }] : [];
  if (call.revision > 1) flags.push(`revision ${call.revision}`);
  const override = overrideForm(call);
  const awaiting = call.awaiting_backup
    ? `Backup requested: waiting for a ${label(call.awaiting_route)} unit — “${call.awaiting_backup}”`
    : `Waiting for a ${label(call.awaiting_route)} unit`;
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
      backupBadge(call),
      ...flags.map((flag) => el("span", { class: "badge flag", text: flag })),
    ),
    el("p", { class: "meta", text: `Threat ${call.threat_level || "unknown"} · ${where} · received ${minutesAgo(call.received_at)}` }),
    unitLine(units),
    call.staging
      ? el("p", { class: "alert", "data-field": "staging", text: "Clinician team: stage at a safe distance until police clear the scene" })
      : null,
    call.awaiting_route
      ? el("p", { class: "alert", "data-field": "awaiting", text: awaiting })
      : null,
    changeList(call),
    suggestion(call),
    call.decision ? el("p", { class: "explanation", text: call.decision.explanation }) : null,
    indicatorList(call.decision),
    actions(call, override.toggle),
    override.panel,
  );
}

function fill(list, items, render, emptyText) {
  // Rebuild only what changed (or once a minute, for the "min ago" times), so a button is not
  // replaced under the dispatcher's pointer by an unrelated update.
  const signature = `${JSON.stringify(items)}${Math.floor(Date.now() / 60000)}:${localVersion}`;
  if (list.dataset.signature === signature) return;
  list.dataset.signature = signature;
  list.replaceChildren(...(items.length ? items.map(render) : [el("li", { class: "empty", text: emptyText })]));
}

function keepingInput(draw) {
  // A re-render must not undo what the dispatcher is doing: keep chosen values and focus.
  const values = new Map([...document.querySelectorAll("main select, main input, main textarea")]
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
  const openIds = new Set(open.map((c) => c.call_id));
  for (const id of [...routeLog.keys()]) if (!openIds.has(id)) routeLog.delete(id);
  for (const id of [...openForms]) if (!openIds.has(id)) openForms.delete(id);
  for (const key of [...formErrors.keys()]) {
    if (!openIds.has(key.replace(/^suggestion-/, ""))) formErrors.delete(key);
  }
  knownRoutes.clear();
  for (const call of open) knownRoutes.set(call.call_id, call.route);
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

function renderUnserved(report) {
  // Eligible calls served another way since midnight, and the most common reasons.
  document.getElementById("unserved-count").textContent = String(report.unserved_calls);
  const reasons = report.by_route_and_reason
    .slice(0, 3)
    .map((row) => `${label(row.route)}: ${row.reason.replaceAll("_", " ")} ${row.calls}`);
  document.getElementById("unserved-reasons").textContent = reasons.length ? `(${reasons.join("; ")})` : "";
}

async function refresh() {
  try {
    const openQuery = ["queued", ...ACTIVE].map((s) => `status=${s}`).join("&");
    const midnight = new Date();
    midnight.setHours(0, 0, 0, 0);
    const [open, closed, units, unserved] = await Promise.all([
      api(`/v1/calls?${openQuery}&limit=500`),
      api("/v1/calls?status=resolved&status=cancelled&order=recent&limit=10"),
      api("/v1/units"),
      api(`/v1/insights/unserved?since=${encodeURIComponent(midnight.toISOString())}`),
    ]);
    keepingInput(() => render(open.items, closed.items, units.items));
    renderUnserved(unserved);
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
    : `call ${shortId(data.call_id)} ${label(data.status)}${data.unit ? ` → ${data.unit.unit_id}` : ""}`
      + (data.reason && data.reason !== "triaged" ? ` (${data.override_reason || data.reason})` : "");
  log.prepend(el("li", { text: `${new Date().toLocaleTimeString()} ${what}` }));
  while (log.childElementCount > 50) log.lastElementChild.remove();
}

function noteRouted(data) {
  // Keep what a re-triage changed, as seen live: the API keeps the call as it stands, not each step.
  if (data.reason === "re_triaged") {
    const seen = routeLog.get(data.call_id) || [];
    seen.push({
      revision: data.revision, route: data.route, status: data.status, routed_at: data.routed_at,
      unit: data.unit ? { unit_id: data.unit.unit_id, type: data.unit.type } : null,
      from: knownRoutes.get(data.call_id),
    });
    routeLog.set(data.call_id, seen.slice(-20));
    localVersion += 1;
  }
  knownRoutes.set(data.call_id, data.route);
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
      const data = JSON.parse(event.data);
      if (kind === "call.routed") noteRouted(data);
      logEvent(kind, data);
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
