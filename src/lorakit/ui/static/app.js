// lorakit ui: review, runs and compare. Plain JS, no build step, no network
// beyond this server. User data is only ever inserted as text (never as HTML).
"use strict";

const PAGE = 50; // rows rendered at a time; "Show more" adds the next page
const ui = { rows: [], info: null, checks: {}, shown: PAGE, editing: null, rejecting: null, current: null };

// --- small helpers -----------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function api(path, body) {
  const opts = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const resp = await fetch(path, { credentials: "same-origin", ...opts });
  const data = await resp.json().catch(() => ({ error: resp.statusText }));
  if (!resp.ok) {
    const detail = data.error || (typeof data.detail === "string" ? data.detail : resp.statusText);
    throw new Error(detail + (data.fix ? ` (fix: ${data.fix})` : ""));
  }
  return data;
}

function notice(text, kind = "info") {
  const box = document.getElementById("notice");
  box.textContent = text;
  box.className = `notice ${kind}`;
  box.hidden = !text;
  clearTimeout(notice.timer);
  if (kind === "info" && text) notice.timer = setTimeout(() => { box.hidden = true; }, 4000);
}

function checked(name) {
  return new Set([...document.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value));
}

// --- tabs --------------------------------------------------------------------

function showTab(name) {
  for (const button of document.querySelectorAll(".tabs button")) {
    button.setAttribute("aria-selected", String(button.dataset.tab === name));
  }
  for (const panel of document.querySelectorAll(".panel")) panel.hidden = panel.id !== `tab-${name}`;
  if (name === "runs" && !showTab.runsLoaded) { showTab.runsLoaded = true; loadRuns(); }
  if (name === "compare" && !showTab.compareLoaded) { showTab.compareLoaded = true; loadAdapters(); }
  history.replaceState(null, "", `#${name}`);
}

// --- review: loading and filtering ------------------------------------------------

async function loadReview() {
  const info = await api("/api/info");
  ui.checks = info.checks;
  if (!info.review) {
    document.getElementById("rows").replaceChildren(el("div", { class: "empty-state" },
      "No dataset to review. Start the page with ", el("code", {}, "lorakit ui --data FILE.jsonl"), "."));
    return;
  }
  if (!info.checks_available) notice("data checks are not available: rows are shown without findings", "error");
  setRows(await api("/api/rows"));
}

function setRows(data) {
  ui.rows = data.rows;
  ui.info = data.info;
  if (data.info.check_error) notice(data.info.check_error + ": findings may be out of date", "error");
  renderFiles();
  renderCheckFilters();
  renderRows();
}

function findingsOf(row) {
  return row.status === "rejected" ? row.source_findings : row.findings;
}

function severityOf(row) {
  const found = findingsOf(row);
  if (found.some((f) => f.severity === "error")) return "error";
  return found.length ? "warning" : "clean";
}

function matches(row, filters) {
  if (!filters.severity.has(severityOf(row))) return false;
  if (!filters.status.has(row.status)) return false;
  if (filters.checks.size && !findingsOf(row).some((f) => filters.checks.has(f.check))) return false;
  if (filters.search) {
    const haystack = (row.text + " " + JSON.stringify(row.current)).toLowerCase();
    if (!haystack.includes(filters.search)) return false;
  }
  return true;
}

function currentFilters() {
  return {
    severity: checked("severity"), status: checked("status"), checks: checked("check"),
    search: document.getElementById("search").value.trim().toLowerCase(),
  };
}

function renderFiles() {
  const info = ui.info;
  const name = (path) => path.split("/").pop();
  const folder = info.source.slice(0, info.source.length - name(info.source).length);
  const counts = Object.entries(info.counts).map(([k, v]) => `${v} ${k}`).join(", ");
  const file = (label, path) => el("div", { title: path }, el("b", {}, label), " ", name(path));
  document.getElementById("review-files").replaceChildren(...[
    el("div", { class: "folder", title: folder }, folder),
    file("source", info.source), file("new version", info.version),
    file("edit log", info.log), file("rejects", info.rejects),
    el("div", { class: "counts" }, el("b", {}, `${info.rows} rows: `), counts),
    info.resumed ? el("div", {}, "resumed the last review of this file") : null].filter(Boolean));
}

function renderCheckFilters() {
  const box = document.getElementById("check-filters");
  const keep = checked("check");
  const counts = {};
  for (const row of ui.rows) {
    for (const check of new Set(findingsOf(row).map((f) => f.check))) counts[check] = (counts[check] || 0) + 1;
  }
  const names = Object.keys(counts).sort((a, b) => counts[b] - counts[a]);
  box.replaceChildren(...names.map((name) => el("label", { title: ui.checks[name] || "" },
    el("input", { type: "checkbox", name: "check", value: name, checked: keep.has(name),
                  onchange: () => { ui.shown = PAGE; renderRows(); } }),
    ` ${name} `, el("span", { class: "count" }, counts[name]))));
  if (!names.length) box.append(el("span", { class: "count" }, "no findings"));
}

// --- review: rendering rows ---------------------------------------------------------

function renderRows() {
  const filters = currentFilters();
  const visible = ui.rows.filter((row) => matches(row, filters));
  document.getElementById("rows-summary").textContent =
    `${visible.length} of ${ui.rows.length} rows match` + (visible.length > ui.shown ? ` (showing ${ui.shown})` : "");
  document.getElementById("rows").replaceChildren(...visible.slice(0, ui.shown).map(rowCard));
  document.getElementById("more").hidden = visible.length <= ui.shown;
}

function rowCard(row) {
  const editing = ui.editing === row.line;
  const current = ui.current === row.line ? " current" : "";
  const card = el("article", { class: `row status-${row.status}${current}`, "data-line": row.line },
    el("div", { class: "row-head" },
      el("span", { class: "line" }, `line ${row.line}`),
      el("span", { class: `badge ${row.status}` }, row.status),
      row.edited && row.status !== "edited" ? el("span", { class: "badge edited" }, "edited") : null,
      row.reason ? el("span", { class: "reason" }, row.reason) : null,
      editing ? null : rowActions(row)),
    el("div", { class: "row-body" },
      editing ? editor(row) : conversation(row.current, row.text),
      findingsList(findingsOf(row))));
  if (ui.rejecting === row.line) card.append(rejectForm(row));
  return card;
}

function rowActions(row) {
  const act = (action) => () => doAction(row.line, action, {});
  return el("div", { class: "actions" },
    ["rejected", "accepted"].includes(row.status) ? null : el("button", { class: "accept", onclick: act("accept") }, "Accept"),
    row.status === "rejected" ? null : el("button", { class: "edit", onclick: () => { ui.editing = row.line; renderRows(); } }, "Edit"),
    row.status === "rejected" ? null : el("button", { class: "reject", onclick: () => { ui.rejecting = row.line; renderRows(); } }, "Reject"),
    row.status === "unreviewed" ? null : el("button", { class: "reset", title: "back to the source row", onclick: act("reset") }, "Undo"));
}

function isChat(value) {
  return value && typeof value === "object" && Array.isArray(value.messages) &&
    value.messages.every((m) => m && typeof m === "object");
}

function conversation(value, text) {
  if (!isChat(value)) return el("div", { class: "conv" }, el("pre", { class: "raw" }, text));
  return el("div", { class: "conv" }, value.messages.map((m) => {
    const role = typeof m.role === "string" ? m.role : String(m.role);
    const known = ["user", "assistant", "system"].includes(role);
    const content = typeof m.content === "string" ? m.content : JSON.stringify(m.content);
    const empty = !content || !content.trim();
    return el("div", { class: `msg role-${known ? role : "other"}${empty ? " empty" : ""}` },
      el("span", { class: "role" }, role), empty ? "(empty)" : content);
  }));
}

function findingsList(found) {
  if (!found.length) return el("ul", { class: "findings" }, el("li", { class: "none" }, "no findings"));
  return el("ul", { class: "findings" }, found.map((f) =>
    el("li", { class: `sev-${f.severity}`, title: ui.checks[f.check] || "" },
      el("span", { class: "check" }, `${f.check} · ${f.severity}`), f.message,
      relatedLink(f.related))));
}

function relatedLink(related) {
  // a duplicate or conflict names the earlier row: a link jumps to it
  if (!related || !related.line) return null;
  const sameFile = !related.path || related.path === ui.info.source;
  if (!sameFile) return el("span", { class: "related" }, ` (${related.path.split("/").pop()}:${related.line})`);
  return el("a", { class: "related", href: "#", onclick: (e) => { e.preventDefault(); jumpTo(related.line); } },
    ` see line ${related.line}`);
}

function jumpTo(line) {
  let card = document.querySelector(`article.row[data-line="${line}"]`);
  if (!card) {
    // the row is filtered out or not yet shown: search for it by clearing the filters
    for (const box of document.querySelectorAll('.sidebar input[type="checkbox"]')) box.checked = box.name !== "check";
    document.getElementById("search").value = "";
    ui.shown = Math.max(ui.shown, ui.rows.findIndex((r) => r.line === line) + 1);
    renderRows();
    card = document.querySelector(`article.row[data-line="${line}"]`);
  }
  if (card) {
    card.scrollIntoView({ behavior: "smooth", block: "center" });
    card.classList.add("flash");
    setTimeout(() => card.classList.remove("flash"), 1500);
  }
}

function rejectForm(row) {
  const reasons = [...new Set(findingsOf(row).map((f) => f.check))].join(", ");
  const input = el("input", { type: "text", class: "reason-input", value: reasons,
                              placeholder: "why is this row rejected?" });
  const confirm = () => { ui.rejecting = null; doAction(row.line, "reject", { reason: input.value }); };
  input.addEventListener("keydown", (e) => { if (e.key === "Enter") confirm(); });
  setTimeout(() => input.focus(), 0);
  return el("div", { class: "reject-form" }, input,
    el("button", { class: "primary confirm-reject", onclick: confirm }, "Reject row"),
    el("button", { onclick: () => { ui.rejecting = null; renderRows(); } }, "Cancel"));
}

// --- review: editing ------------------------------------------------------------------

function editor(row) {
  const value = row.current;
  const box = el("div", { class: "editor" });
  const note = el("input", { type: "text", class: "edit-reason", placeholder: "what was fixed (optional)" });
  let read;
  if (isChat(value)) {
    const list = el("div", { class: "msgs" });
    const add = (m) => list.append(messageEditor(m));
    value.messages.forEach(add);
    box.append(list, el("div", { class: "bar" },
      el("button", { type: "button", onclick: () => add({ role: "assistant", content: "" }) }, "+ message")));
    read = () => ({ row: { ...value, messages: [...list.querySelectorAll(".msg-edit")].map((m) => ({
      role: m.querySelector("select").value, content: m.querySelector("textarea").value })) } });
  } else {
    const area = el("textarea", { class: "raw-edit", rows: 6 });
    area.value = typeof value === "string" ? value : JSON.stringify(value, null, 2);
    box.append(el("div", { class: "count" }, "not a chat row: edit it as JSON"), area);
    read = () => ({ raw: area.value });
  }
  const save = () => {
    ui.editing = null;
    doAction(row.line, "edit", { ...read(), reason: note.value });
  };
  box.append(el("div", { class: "bar" }, note,
    el("button", { class: "primary save-edit", onclick: save }, "Save edit"),
    el("button", { onclick: () => { ui.editing = null; renderRows(); } }, "Cancel")));
  return box;
}

function messageEditor(m) {
  const role = typeof m.role === "string" ? m.role : "user";
  const roles = ["system", "user", "assistant"];
  if (!roles.includes(role)) roles.push(role);
  const select = el("select", {}, roles.map((r) => el("option", { value: r, selected: r === role }, r)));
  const area = el("textarea", { rows: 2 });
  area.value = typeof m.content === "string" ? m.content : JSON.stringify(m.content ?? "");
  const row = el("div", { class: "msg-edit" }, select, area,
    el("button", { type: "button", title: "remove this message", onclick: () => row.remove() }, "✕"));
  return row;
}

async function doAction(line, action, body) {
  try {
    const data = await api(`/api/rows/${line}/${action}`, body);
    setRows(data);
    notice(`line ${line}: ${action === "reset" ? "back to the source row" : action + "ed"}`);
  } catch (err) {
    notice(err.message, "error");
    renderRows();
  }
}

// --- keys: j/k move between rows, a/e/r/u act on the current one, / searches ---------

function keyboard(event) {
  // typing in a text field is not a command (a focused checkbox is fine)
  const typing = event.target.closest('textarea, select, input:not([type="checkbox"]):not([type="radio"])');
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  if (document.getElementById("tab-review").hidden) return;
  const cards = [...document.querySelectorAll("article.row")];
  const at = cards.findIndex((c) => Number(c.dataset.line) === ui.current);
  const move = (i) => {
    const card = cards[Math.max(0, Math.min(cards.length - 1, i))];
    if (!card) return;
    ui.current = Number(card.dataset.line);
    for (const c of cards) c.classList.toggle("current", c === card);
    card.scrollIntoView({ block: "nearest" });
  };
  const press = (cls) => { const b = cards[at] && cards[at].querySelector(`button.${cls}`); if (b) b.click(); };
  const acceptAndNext = () => {
    press("accept");
    if (cards[at + 1]) ui.current = Number(cards[at + 1].dataset.line); // shown on re-render
  };
  const actions = { j: () => move(at + 1), k: () => move(at - 1), a: acceptAndNext,
                    e: () => press("edit"), r: () => press("reject"), u: () => press("reset"),
                    "/": () => document.getElementById("search").focus() };
  if (actions[event.key]) { event.preventDefault(); actions[event.key](); }
}

// --- start ---------------------------------------------------------------------------

function start() {
  for (const button of document.querySelectorAll(".tabs button")) {
    button.addEventListener("click", () => showTab(button.dataset.tab));
  }
  for (const input of document.querySelectorAll('input[name="severity"], input[name="status"]')) {
    input.addEventListener("change", () => { ui.shown = PAGE; renderRows(); });
  }
  document.getElementById("search").addEventListener("input", () => { ui.shown = PAGE; renderRows(); });
  document.getElementById("checks-clear").addEventListener("click", () => {
    for (const box of document.querySelectorAll('input[name="check"]')) box.checked = false;
    renderRows();
  });
  document.addEventListener("keydown", keyboard);
  document.getElementById("more").addEventListener("click", () => { ui.shown += PAGE; renderRows(); });
  document.getElementById("compare-form").addEventListener("submit", (e) => { e.preventDefault(); runCompare(); });
  loadReview().catch((err) => notice(err.message, "error"));
  showTab((location.hash || "#review").slice(1));
}

document.addEventListener("DOMContentLoaded", start);
