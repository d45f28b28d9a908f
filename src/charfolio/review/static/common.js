// charfolio review, shared by the page's scripts (loaded in order: common.js, views.js,
// review.js): the token, the page's state, the API and small DOM helpers.
"use strict";

const TOKEN = document.querySelector('meta[name="charfolio-token"]').content;
const TILE_W = 200;
const TILE_H = 270;
const S = {
  items: [], view: [], decisions: {}, focus: 0, selected: new Set(), anchor: null, undo: [],
  gaps: {}, mode: "images", rateables: [], ratings: {}, rfocus: 0, catalogVersion: null,
  orphans: [],
};
const $ = (id) => document.getElementById(id);

async function api(path, body) {
  const options = { headers: { "X-Charfolio-Token": TOKEN } };
  if (body !== undefined) {
    options.method = "POST";
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
  return answer;
}

function fileUrl(kind, file) {
  return `api/${kind}?file=${encodeURIComponent(file)}&token=${encodeURIComponent(TOKEN)}`;
}

function status(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", error);
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}
