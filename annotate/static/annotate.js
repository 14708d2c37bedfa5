// The annotate page: drag or nudge the head-top, chin and centre lines over the front render,
// see the 256 x 256 reset image they make, Enter saves and opens the next character.
//
// Lines are kept in the render's pixels (rows for head top and chin, a column for the centre);
// the mapping the server stores beside the image turns them into MMD model space.
"use strict";

const CID = decodeURIComponent(location.pathname.split("/").pop());
const LINES = ["top", "chin", "center"];
const NAMES = { top: "head top", chin: "chin", center: "centre" };
const COLORS = { top: "#e5484d", chin: "#3e63dd", center: "#30a46c" };
const GRAB_CSS_PX = 8;

const front = document.getElementById("front");
const preview = document.getElementById("preview");
const stage = document.getElementById("stage");
const img = new Image();

let detail = null;
let mapping = null;
let lines = null; // {top, chin, center} in render pixels
let active = "chin";
let undo = [];
let dragging = null;
let zoomed = false;
let mouse = null; // last mouse position over the canvas, in CSS px relative to the canvas
let busy = false;

function message(text, kind) {
  const m = document.getElementById("message");
  m.textContent = text || "";
  m.className = kind || "";
}

// ------------------------------------------------------------------ model <-> pixels
const rowOf = (y) => mapping.row0 + mapping.row_per_y * y;
const yOf = (row) => (row - mapping.row0) / mapping.row_per_y;
const colOf = (x) => mapping.col0 + mapping.col_per_x * x;
const xOf = (col) => (col - mapping.col0) / mapping.col_per_x;

function linesOf(src) {
  const cx = src.center_x !== undefined && src.center_x !== null ? src.center_x : src.chin[0];
  return { top: rowOf(src.head_top[1]), chin: rowOf(src.chin[1]), center: colOf(cx) };
}

// ------------------------------------------------------------------ carry over
// The last accepted answer, relative to its suggestion: each line's offset from the suggested
// one in suggested head heights. With carry over on, a character that still needs work starts
// from its own suggestion moved by those offsets (a collection whose estimate is off the same
// way, e.g. always keeping a hair loop, then needs one correction, not one per character).
// Kept in the browser (localStorage): it is one person's habit, not the collection's data.
const CARRY_KEY = "thagen.carryOver";
const CARRIED_KEY = "thagen.carried";

function carryOn() {
  return localStorage.getItem(CARRY_KEY) === "1";
}

function carried() {
  try {
    const c = JSON.parse(localStorage.getItem(CARRIED_KEY) || "null");
    return c && [c.top, c.chin, c.center].every(Number.isFinite) ? c : null;
  } catch (err) {
    return null;
  }
}

function rememberAnswer() {
  if (detail.suggestion.error) return;
  const s = linesOf(detail.suggestion);
  const h = s.chin - s.top;
  if (!(h > 0)) return;
  const rel = { from: CID, top: (lines.top - s.top) / h, chin: (lines.chin - s.chin) / h, center: (lines.center - s.center) / h };
  localStorage.setItem(CARRIED_KEY, JSON.stringify(rel));
}

function startingLines() {
  const needsWork = detail.status === "todo" || detail.status === "auto";
  const c = carried();
  if (carryOn() && needsWork && c && c.from !== CID && !detail.suggestion.error) {
    const s = linesOf(detail.suggestion);
    const h = s.chin - s.top;
    const out = { top: s.top + c.top * h, chin: s.chin + c.chin * h, center: s.center + c.center * h };
    if (out.top < out.chin) return out;
  }
  return linesOf(detail.annotation || detail.suggestion);
}

function showCarry() {
  const c = carried();
  const node = document.getElementById("carry");
  node.textContent = `carry over: ${carryOn() ? "on" : "off"}` + (carryOn() && c ? ` (from ${c.from})` : "");
  node.className = carryOn() ? "on" : "";
}

function toggleCarry() {
  localStorage.setItem(CARRY_KEY, carryOn() ? "0" : "1");
  showCarry();
  if (lines && !undo.length) {
    // nothing edited yet: start again from the new setting's lines
    lines = startingLines();
    draw();
  }
}

function body() {
  const src = detail.annotation || detail.suggestion;
  const top = [src.head_top[0], yOf(lines.top), src.head_top[2]];
  const chin = [src.chin[0], yOf(lines.chin), src.chin[2]];
  return { head_top: top, chin: chin, center_x: xOf(lines.center), version: detail.version };
}

// ------------------------------------------------------------------ drawing
function draw() {
  const ctx = front.getContext("2d");
  ctx.clearRect(0, 0, front.width, front.height);
  if (!lines) return;
  ctx.drawImage(img, 0, 0);
  const scale = front.width / front.getBoundingClientRect().width; // render px per CSS px
  for (const name of LINES) {
    ctx.strokeStyle = COLORS[name];
    ctx.lineWidth = (name === active ? 2.5 : 1.2) * scale;
    ctx.setLineDash(name === active ? [] : [6 * scale, 4 * scale]);
    ctx.beginPath();
    if (name === "center") {
      ctx.moveTo(lines.center, 0);
      ctx.lineTo(lines.center, front.height);
    } else {
      ctx.moveTo(0, lines[name]);
      ctx.lineTo(front.width, lines[name]);
    }
    ctx.stroke();
    ctx.fillStyle = COLORS[name];
    ctx.font = `${12 * scale}px sans-serif`;
    if (name !== "center") ctx.fillText(NAMES[name], 4 * scale, lines[name] - 4 * scale);
  }
  ctx.setLineDash([]);
  drawPreview();
  document.getElementById("active-line").textContent =
    `active: ${NAMES[active]} · head top y ${yOf(lines.top).toFixed(3)} · chin y ${yOf(lines.chin).toFixed(3)} · centre x ${xOf(lines.center).toFixed(3)}`;
}

function drawPreview() {
  // THA1 framing: head top on row 64, chin on row 192 of 256, centred on the head; the
  // renderer is orthographic, so the reset image is exactly this crop of the front render
  const ctx = preview.getContext("2d");
  ctx.fillStyle = "#808080";
  ctx.fillRect(0, 0, 256, 256);
  const h = lines.chin - lines.top;
  if (h > 0) {
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(img, lines.center - h, lines.top - h / 2, 2 * h, 2 * h, 0, 0, 256, 256);
  }
  ctx.strokeStyle = "rgba(255,255,255,0.5)";
  ctx.lineWidth = 1;
  for (const y of [64, 192]) {
    ctx.beginPath();
    ctx.moveTo(0, y + 0.5);
    ctx.lineTo(256, y + 0.5);
    ctx.stroke();
  }
}

function showInfo() {
  document.getElementById("title").textContent = `${detail.model} (${detail.id})`;
  document.getElementById("status").textContent = detail.status;
  document.getElementById("status").className = "status-" + detail.status;
  const s = detail.suggestion;
  const sug = document.getElementById("suggestion");
  sug.replaceChildren();
  if (s.error) {
    sug.append(el("p", { class: "error" }, "This model failed: " + s.error + " — press S to skip it."));
  } else {
    sug.append(el("p", {}, `suggestion confidence ${fmtConfidence(s.confidence)}`));
    const ul = el("ul", {});
    for (const r of s.reasons) ul.append(el("li", {}, r));
    sug.append(ul);
  }
  const reasons = Object.entries(detail.reasons || {});
  if (detail.held_back || reasons.length) {
    sug.append(el("p", { class: detail.held_back ? "error" : "" }, detail.held_back
      ? "Held back from the training data by QA: fix it here (or in a rig override), then run thagen render … --redo flagged."
      : "QA flags of the last render:"));
    const qa = el("ul", {});
    for (const [flag, why] of reasons) qa.append(el("li", {}, `${flag}: ${why}`));
    sug.append(qa);
  }
  const saved = document.getElementById("saved");
  saved.replaceChildren();
  if (detail.annotation) {
    const a = detail.annotation;
    saved.append(el("p", {}, `saved: ${a.source}${a.annotator ? " by " + a.annotator : ""}${a.created ? " at " + a.created : ""}`));
  }
  if (detail.skip) saved.append(el("p", {}, `skipped: ${detail.skip.reason}`));
  for (const p of detail.problems) saved.append(el("p", { class: "error" }, p));
}

function fit() {
  // the whole picture in the window (at least 768 render px stay 1:1 when the window allows)
  const avail = Math.max(200, window.innerHeight - stage.getBoundingClientRect().top - 16);
  front.style.height = Math.min(avail, front.height) + "px";
  front.style.width = "auto";
}

// ------------------------------------------------------------------ loading
async function load() {
  const r = await api("GET", "/api/characters/" + encodeURIComponent(CID));
  if (!r.ok) {
    message(r.data.error, "error");
    return;
  }
  detail = r.data;
  showInfo();
  const state = detail.image.state;
  document.getElementById("pending").hidden = state !== "pending" && state !== "none";
  if (state === "failed") {
    document.getElementById("pending").hidden = true;
    message("no front render: " + (detail.image.error || "failed") + " — press S to skip", "error");
    document.body.dataset.ready = "1";
    return;
  }
  if (state === "off") {
    document.getElementById("pending").hidden = true;
    message("front renders are off (--no-render)");
    return;
  }
  if (state !== "ready") {
    setTimeout(load, 500);
    return;
  }
  mapping = detail.image.mapping;
  img.onload = () => {
    front.width = img.naturalWidth;
    front.height = img.naturalHeight;
    lines = startingLines();
    undo = [];
    fit();
    draw();
    document.body.dataset.ready = "1";
  };
  img.src = withToken(detail.image.url) + (detail.image.url.includes("?") ? "&" : "?") + "v=" + mapping.seconds;
}

function go(id) {
  if (id) location.href = annotateUrl(id);
  else location.href = withToken("/");
}

// ------------------------------------------------------------------ editing
function remember() {
  undo.push({ ...lines });
  if (undo.length > 200) undo.shift();
}

function nudge(name, delta) {
  remember();
  lines[name] += delta;
  if (lines.top >= lines.chin) lines[name] -= delta; // the chin stays below the head top
  draw();
}

async function accept() {
  if (busy || !lines) return;
  busy = true;
  const r = await api("PUT", `/api/characters/${encodeURIComponent(CID)}/annotation`, body());
  busy = false;
  if (r.ok) {
    message("saved", "ok");
    rememberAnswer();
    go(r.data.next_todo);
  } else if (r.status === 409) {
    message("not saved: " + r.data.error + " — reload the page to see the other edit", "error");
  } else {
    message("not saved: " + r.data.error, "error");
  }
}

async function skip(reason) {
  if (busy || !detail) return;
  busy = true;
  const r = await api("POST", `/api/characters/${encodeURIComponent(CID)}/skip`, { reason, version: detail.version });
  busy = false;
  if (r.ok) go(r.data.next_todo);
  else message("not skipped: " + r.data.error, "error");
}

function toRender(ev) {
  const rect = front.getBoundingClientRect();
  return {
    col: ((ev.clientX - rect.left) * front.width) / rect.width,
    row: ((ev.clientY - rect.top) * front.height) / rect.height,
    perCss: front.height / rect.height,
  };
}

function nearest(p) {
  let best = null;
  let dist = GRAB_CSS_PX * p.perCss;
  for (const name of LINES) {
    const d = name === "center" ? Math.abs(p.col - lines.center) : Math.abs(p.row - lines[name]);
    if (d <= dist) {
      best = name;
      dist = d;
    }
  }
  return best;
}

front.addEventListener("mousedown", (ev) => {
  if (!lines) return;
  const p = toRender(ev);
  const name = nearest(p);
  if (!name) return; // only a line grabbed on purpose moves: no accidental drags
  ev.preventDefault();
  remember();
  active = name;
  dragging = name;
  draw();
});
window.addEventListener("mousemove", (ev) => {
  const rect = front.getBoundingClientRect();
  mouse = { x: ev.clientX - rect.left, y: ev.clientY - rect.top, w: rect.width, h: rect.height };
  if (!dragging) return;
  const p = toRender(ev);
  const value = dragging === "center" ? p.col : p.row;
  if (dragging === "top" && value >= lines.chin) return;
  if (dragging === "chin" && value <= lines.top) return;
  lines[dragging] = value;
  draw();
});
window.addEventListener("mouseup", () => {
  dragging = null;
});

function toggleZoom() {
  zoomed = !zoomed;
  if (zoomed) {
    const m = mouse && mouse.x >= 0 && mouse.y >= 0 ? mouse : null;
    const ox = m ? Math.min(100, (m.x / m.w) * 100) : 50;
    const oy = m ? Math.min(100, (m.y / m.h) * 100) : 50;
    front.style.transformOrigin = `${ox}% ${oy}%`;
    front.style.transform = "scale(2)";
  } else {
    front.style.transform = "";
  }
  draw();
}

// ------------------------------------------------------------------ keys
const skipDialog = document.getElementById("skip-dialog");
const help = document.getElementById("help");

document.getElementById("skip-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const reason = document.getElementById("skip-reason").value.trim() || "unusable model";
  skipDialog.close();
  skip(reason);
});

document.addEventListener("keydown", (ev) => {
  if (skipDialog.open || help.open) {
    if (ev.key === "Escape" || (help.open && ev.key === "?")) {
      ev.preventDefault();
      skipDialog.close();
      help.close();
    }
    return;
  }
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return; // the browser's own shortcuts (Ctrl+C, ...)
  const key = ev.key;
  const step = ev.shiftKey ? 10 : 1;
  if (key === "Enter") {
    ev.preventDefault();
    accept();
  } else if (key === "Tab") {
    ev.preventDefault();
    const i = LINES.indexOf(active);
    active = LINES[(i + (ev.shiftKey ? LINES.length - 1 : 1)) % LINES.length];
    if (lines) draw();
  } else if ((key === "ArrowUp" || key === "ArrowDown") && lines) {
    ev.preventDefault();
    if (active === "center") message("the centre line moves with ← / →");
    else nudge(active, key === "ArrowUp" ? -step : step);
  } else if ((key === "ArrowLeft" || key === "ArrowRight") && lines && active === "center") {
    ev.preventDefault();
    nudge("center", key === "ArrowLeft" ? -step : step);
  } else if (key === "n" || key === "N") {
    if (detail) go(detail.next);
  } else if (key === "p" || key === "P") {
    if (detail) go(detail.prev);
  } else if (key === "s" || key === "S") {
    ev.preventDefault();
    document.getElementById("skip-reason").value = "";
    skipDialog.showModal();
    document.getElementById("skip-reason").focus();
  } else if ((key === "u" || key === "U") && undo.length) {
    lines = undo.pop();
    draw();
  } else if (key === "z" || key === "Z") {
    toggleZoom();
  } else if (key === "q" || key === "Q") {
    go(null);
  } else if (key === "c" || key === "C") {
    toggleCarry();
  } else if (key === "?") {
    help.showModal();
  }
});

window.addEventListener("resize", () => {
  if (lines) {
    fit();
    draw();
  }
});

// for the browser tests: where the lines are, in render pixels and on the screen
window.thagenState = () => {
  const rect = front.getBoundingClientRect();
  return { lines, mapping, active, carry: carryOn(), rect: { left: rect.left, top: rect.top, width: rect.width, height: rect.height }, size: front.width };
};

showCarry();
load();
