// The queue page: every character, its status, confidence and flags; the ones a render held back
// (QA, --qa OUT) first, then least confident first. Hovering a flag shows why it was raised.
"use strict";

const LOW = 0.8;
const SHOWN = 500; // rows drawn at most: a collection of thousands stays responsive
let filter = "all";
let rows = [];
let selected = -1;

function visible(row) {
  if (filter === "todo") return row.status === "todo" || row.status === "auto";
  if (filter === "low") return row.confidence !== null && row.confidence < LOW;
  if (filter === "flagged") return row.flags.length > 0 || row.held_back;
  return true;
}

function placeholder(state) {
  // until the background worker has rendered the small picture (after the prefetch)
  if (state === "failed") return el("span", { class: "nothumb failed", title: "no render" }, "✕");
  if (state === "off") return el("span", { class: "nothumb" }, "·");
  return el("span", { class: "nothumb pending", title: "rendering the thumbnail…" }, el("span", { class: "spinner" }));
}

function flagsCell(row) {
  const td = el("td", { class: "flags" });
  if (row.held_back) td.append(el("span", { class: "held", title: "held back from the training data until fixed and re-rendered (--redo flagged)" }, "held back"), " ");
  row.flags.forEach((f, i) => {
    const why = (row.reasons || {})[f];
    td.append(why ? el("span", { title: why, class: "why" }, f) : f, i + 1 < row.flags.length ? ", " : "");
  });
  return td;
}

function render(data) {
  rows = data.characters.filter(visible);
  const p = data.progress;
  document.getElementById("progress").textContent =
    `${p.done} / ${p.total} done · median ${fmtSeconds(p.median_seconds)} per character · ETA ${fmtSeconds(p.eta_seconds)}`;
  const body = document.querySelector("#queue tbody");
  body.replaceChildren();
  rows.slice(0, SHOWN).forEach((row, i) => {
    const thumb = row.thumb ? el("img", { src: withToken(row.thumb), alt: "", width: 64 }) : placeholder(row.thumb_state);
    const link = el("a", { href: annotateUrl(row.id) }, row.model);
    const tr = el(
      "tr",
      { class: "status-" + row.status + (i === selected ? " selected" : ""), "data-id": row.id },
      el("td", {}, thumb),
      el("td", {}, link),
      el("td", { class: "mono" }, row.id),
      el("td", { class: "status" }, row.status),
      el("td", { class: row.confidence !== null && row.confidence < LOW ? "low" : "" }, fmtConfidence(row.confidence)),
      flagsCell(row)
    );
    tr.addEventListener("click", (ev) => {
      if (ev.target.tagName !== "A") location.href = annotateUrl(row.id);
    });
    body.append(tr);
  });
  if (rows.length > SHOWN) {
    body.append(el("tr", {}, el("td", { colSpan: 6, class: "hint" }, `… and ${rows.length - SHOWN} more (the first ${SHOWN} are shown)`)));
  }
  for (const b of document.querySelectorAll("#filters button")) {
    b.classList.toggle("on", b.dataset.filter === filter);
  }
  document.body.dataset.ready = "1";
}

async function refresh() {
  const r = await api("GET", "/api/characters");
  if (r.ok) render(r.data);
  else document.getElementById("progress").textContent = "error: " + r.data.error;
}

async function openFirst() {
  const r = await api("GET", "/api/first-todo");
  if (r.ok && r.data.id) location.href = annotateUrl(r.data.id);
  else if (r.ok) document.getElementById("progress").textContent += " · nothing left to do";
}

document.getElementById("start").addEventListener("click", (ev) => {
  ev.preventDefault();
  openFirst();
});
for (const b of document.querySelectorAll("#filters button")) {
  b.addEventListener("click", () => {
    filter = b.dataset.filter;
    selected = -1;
    refresh();
  });
}
document.addEventListener("keydown", (ev) => {
  if (ev.target.tagName === "INPUT") return;
  const filters = ["all", "todo", "low", "flagged"];
  if (ev.key >= "1" && ev.key <= "4") {
    filter = filters[Number(ev.key) - 1];
    selected = -1;
    refresh();
  } else if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
    ev.preventDefault();
    const step = ev.key === "ArrowDown" ? 1 : -1;
    selected = Math.max(0, Math.min(rows.length - 1, selected + step));
    refresh();
  } else if (ev.key === "Enter" && document.activeElement.tagName !== "A" && document.activeElement.tagName !== "BUTTON") {
    ev.preventDefault();
    if (selected >= 0 && rows[selected]) location.href = annotateUrl(rows[selected].id);
    else openFirst();
  }
});

refresh();
setInterval(refresh, 3000);
