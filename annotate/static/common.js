// Shared by the queue and annotate pages: the API with the session token, small formatters.
"use strict";

const TOKEN = new URLSearchParams(location.search).get("token");

function withToken(url) {
  if (!TOKEN) return url;
  return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN);
}

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (TOKEN) opts.headers["X-Thagen-Token"] = TOKEN;
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, opts);
  } catch (err) {
    return { status: 0, ok: false, data: { error: "the server is not answering (" + err + ")" } };
  }
  let data = null;
  try {
    data = await response.json();
  } catch (err) {
    data = { error: response.statusText };
  }
  return { status: response.status, ok: response.ok, data };
}

function fmtSeconds(s) {
  if (s === null || s === undefined) return "–";
  if (s < 90) return s.toFixed(1) + " s";
  if (s < 5400) return (s / 60).toFixed(1) + " min";
  return (s / 3600).toFixed(1) + " h";
}

function fmtConfidence(c) {
  return c === null || c === undefined ? "…" : c.toFixed(2);
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function annotateUrl(id) {
  return withToken("/annotate/" + encodeURIComponent(id));
}
