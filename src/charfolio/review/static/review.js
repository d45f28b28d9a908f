// charfolio review: plain JavaScript, no build step, nothing from the network but this server.
// The grid is virtualised: only the tiles in view (plus a row either side) are in the DOM, so
// 30,000 images scroll as fast as 30. Every decision is POSTed at once; the server writes it
// into the review file as the file is now and answers with every current decision.
"use strict";

// --- loading and filters -------------------------------------------------------------------

async function load() {
  const started = performance.now();
  const data = await api("api/items");
  const columns = data.columns;
  const names = Object.keys(columns);
  S.items = columns.file.map((_, i) => {
    const item = { i };
    for (const name of names) item[name] = columns[name][i];
    item.tiers = item.tiers || [];
    return item;
  });
  S.decisions = data.decisions;
  S.catalogVersion = data.catalog_version;
  showOrphans(data.orphans);
  S.gaps = data.gaps;
  fillFilters();
  applyFilters();
  document.body.dataset.firstRenderMs = String(Math.round(performance.now() - started));
  status(`${S.items.length} images · decisions go to ${data.review_file}`);
  refreshPreview();
}

function options(id, values, labels = {}) {
  const select = $(id);
  select.replaceChildren(new Option("any", ""));
  for (const value of values) select.add(new Option(labels[value] || String(value), String(value)));
}

function distinct(key) {
  const seen = new Set();
  for (const item of S.items) if (item[key] !== null && item[key] !== undefined) seen.add(item[key]);
  return [...seen].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function fillFilters() {
  options("f-verdict", distinct("verdict"));
  options("f-reason", distinct("reject_reason"));
  const tiers = new Set();
  for (const item of S.items) for (const tier of item.tiers) tiers.add(tier);
  const tierNames = [...tiers].sort((a, b) => parseInt(a.slice(5)) - parseInt(b.slice(5)));
  options("f-tier", [...tierNames, "none"], { none: "in no tier" });
  options("f-cluster", distinct("cluster"));
  options("f-seed", distinct("seed"));
  options("f-shot", distinct("shot_type"));
  options("f-decision", ["accept", "reject", "star", "none"], { none: "no decision" });
  const gaps = [];
  const gapLabels = {};
  for (const [tier, shots] of Object.entries(S.gaps)) {
    for (const [shot, images] of Object.entries(shots)) {
      const value = `${tier}|${shot}`;
      gaps.push(value);
      gapLabels[value] = `${tier}: ${shot} (short ${images})`;
    }
  }
  options("f-gap", gaps, gapLabels);
}

function matches(item, f) {
  if (f.verdict && item.verdict !== f.verdict) return false;
  if (f.reason && item.reject_reason !== f.reason) return false;
  if (f.tier === "none" ? item.tiers.length > 0 : f.tier && !item.tiers.includes(f.tier)) return false;
  if (f.cluster && String(item.cluster) !== f.cluster) return false;
  if (f.seed && String(item.seed) !== f.seed) return false;
  if (f.shot && item.shot_type !== f.shot) return false;
  const decision = S.decisions[item.file] ? S.decisions[item.file].decision : "none";
  if (f.decision && decision !== f.decision) return false;
  if (f.gap) {
    // Candidates to fill a tier's short shot type: outside the tier, of that shot type, and
    // passed or at least readable (a reviewer's accept admits any readable image).
    const [tier, shot] = f.gap.split("|");
    if (item.tiers.includes(tier) || item.shot_type !== shot) return false;
    if (item.verdict !== "passed" && item.readable === false) return false;
  }
  return true;
}

function applyFilters() {
  const f = {};
  for (const key of ["verdict", "reason", "tier", "cluster", "seed", "shot", "decision", "gap"]) {
    f[key] = $(`f-${key}`).value;
  }
  const sort = $("f-sort").value;
  S.view = S.items.filter((item) => matches(item, f));
  const last = Number.POSITIVE_INFINITY;
  if (sort === "quality") S.view.sort((a, b) => (b.quality_score ?? -1) - (a.quality_score ?? -1));
  else if (sort === "rank") S.view.sort((a, b) => (a.rank ?? last) - (b.rank ?? last) || a.i - b.i);
  else S.view.sort((a, b) => (a.file < b.file ? -1 : 1));
  S.selected.clear();
  S.anchor = null;
  S.focus = 0;
  $("grid").scrollTop = 0;
  renderGrid();
}

// --- the virtualised grid ------------------------------------------------------------------

function columnsOf() {
  return Math.max(1, Math.floor($("grid").clientWidth / TILE_W));
}

function tile(k, columns) {
  const item = S.view[k];
  const node = el("div", "tile");
  node.dataset.k = String(k);
  node.dataset.file = item.file;
  node.style.left = `${(k % columns) * TILE_W}px`;
  node.style.top = `${Math.floor(k / columns) * TILE_H}px`;
  if (S.selected.has(item.file)) node.classList.add("selected");
  if (k === S.focus) node.classList.add("focused");
  const img = el("img");
  img.src = fileUrl("thumb", item.file);
  img.alt = item.file;
  img.title = item.file;
  node.append(img);
  const score = item.quality_score === null ? "–" : item.quality_score.toFixed(2);
  const rank = item.rank === null || item.rank === undefined ? "" : ` #${item.rank}`;
  node.append(el("div", "meta", `${score}${rank} · ${item.shot_type} · c${item.cluster ?? "–"} · seed ${item.seed}`));
  const verdict = item.verdict === "passed" ? "passed" : `${item.verdict}: ${item.reject_reason || ""}`;
  node.append(el("div", `meta ${item.verdict === "passed" ? "" : "rejected"}`, `face ${item.face_verdict} · ${verdict}`));
  const line = el("div", "meta");
  const decision = S.decisions[item.file];
  if (decision) line.append(el("span", `badge ${decision.decision}`, decision.decision));
  if (item.review_status === "stale") line.append(el("span", "stale", " stale (image changed)"));
  else line.append(el("span", "undecided", "no decision"));
  if (item.tiers.length) line.append(` ${item.tiers.join(" ")}`);
  node.append(line);
  return node;
}

function renderGrid() {
  const grid = $("grid");
  const columns = columnsOf();
  const rows = Math.ceil(S.view.length / columns);
  $("spacer").style.height = `${rows * TILE_H}px`;
  const first = Math.max(0, Math.floor(grid.scrollTop / TILE_H) - 1);
  const last = Math.min(rows, Math.ceil((grid.scrollTop + grid.clientHeight) / TILE_H) + 1);
  const tiles = document.createDocumentFragment();
  for (let k = first * columns; k < Math.min(S.view.length, last * columns); k++) {
    tiles.append(tile(k, columns));
  }
  $("spacer").replaceChildren(tiles);
  updateCount();
}

let scheduled = false;
function scheduleRender() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    renderGrid();
  });
}

function scrollToFocus() {
  const grid = $("grid");
  const top = Math.floor(S.focus / columnsOf()) * TILE_H;
  if (top < grid.scrollTop) grid.scrollTop = top;
  else if (top + TILE_H > grid.scrollTop + grid.clientHeight) grid.scrollTop = top + TILE_H - grid.clientHeight;
}

function select(k, event) {
  const file = S.view[k].file;
  if (event && event.shiftKey && S.anchor !== null) {
    const [from, to] = [Math.min(S.anchor, k), Math.max(S.anchor, k)];
    for (let j = from; j <= to; j++) S.selected.add(S.view[j].file);
  } else if (event && (event.ctrlKey || event.metaKey)) {
    if (S.selected.has(file)) S.selected.delete(file);
    else S.selected.add(file);
    S.anchor = k;
  } else {
    S.selected = new Set([file]);
    S.anchor = k;
  }
  S.focus = k;
  restyle();
}

// Selection and focus change classes in place: replacing the tiles between the two clicks
// of a double click would lose the double click.
function restyle() {
  for (const node of $("spacer").children) {
    node.classList.toggle("selected", S.selected.has(node.dataset.file));
    node.classList.toggle("focused", Number(node.dataset.k) === S.focus);
  }
  updateCount();
}

function updateCount() {
  const shown = `${S.view.length} of ${S.items.length} shown`;
  $("tab-images").textContent = `Images (${shown}${S.selected.size ? `, ${S.selected.size} selected` : ""})`;
}

// --- decisions -----------------------------------------------------------------------------

function targets() {
  if (S.selected.size) return [...S.selected];
  return S.view.length ? [S.view[S.focus].file] : [];
}

// POSTs go one after another, so the server applies them in the order they were made and
// the last answer (the file as it is now) is the one the page keeps.
let queue = Promise.resolve();
function send(changes, done) {
  for (const change of changes) {
    if (change.decision === null) delete S.decisions[change.file];
    else S.decisions[change.file] = { decision: change.decision, note: change.note || "" };
  }
  renderGrid();
  queue = queue.then(() => post(changes, done));
}

// An answer carries the decisions on file (other tabs' included), the catalog's version (a
// snakemake run rebuilt it: load the items again) and decisions on images it no longer has.
function takeDecisions(answer) {
  S.decisions = answer.decisions;
  showOrphans(answer.orphans);
  if (answer.catalog_version !== S.catalogVersion) {
    load().catch((error) => status(`cannot reload the catalog: ${error.message}`, true));
    return false;
  }
  return true;
}

// The preview reranks the whole selection: after a burst of keys, ask once.
let previewTimer = null;
function schedulePreview() {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(refreshPreview, 250);
}

async function post(changes, done) {
  try {
    const answer = await api("api/decisions", { changes });
    if (!takeDecisions(answer)) return;
    renderGrid();
    status(`${done} · ${Object.keys(S.decisions).length} decisions in the review file`);
    schedulePreview();
  } catch (error) {
    status(`not saved: ${error.message}`, true);
    refreshDecisions();
  }
}

function decide(files, value) {
  if (!files.length) return;
  S.undo.push(files.map((file) => {
    const before = S.decisions[file];
    return { file, decision: before ? before.decision : null, note: before ? before.note : "" };
  }));
  const word = value === null ? "cleared" : value;
  send(files.map((file) => ({ file, decision: value })), `${word}: ${files.length} image(s)`);
}

function undo() {
  const previous = S.undo.pop();
  if (!previous) return status("nothing to undo in this tab");
  send(previous, `undone: ${previous.length} image(s)`);
}

async function refreshDecisions() {
  try {
    if (takeDecisions(await api("api/decisions"))) scheduleRender();
  } catch (error) {
    status(`cannot read decisions: ${error.message}`, true);
  }
}

let previews = 0;
async function refreshPreview() {
  const body = $("preview-body");
  const asked = ++previews;
  try {
    const answer = await api("api/preview");
    if (asked !== previews) return; // a later preview is on its way
    if (!answer.available) {
      body.textContent = answer.message;
      return;
    }
    const lines = Object.entries(answer.tiers)
      .filter(([, change]) => change.added.length || change.removed.length)
      .map(([tier, change]) => {
        const line = el("div", "tier-change", `${tier}: +${change.added.length} / -${change.removed.length}`);
        line.title = [...change.added.map((f) => `+ ${f}`), ...change.removed.map((f) => `- ${f}`)].join("\n");
        return line;
      });
    body.replaceChildren(...(lines.length ? lines : [el("div", "", "no tier would change")]));
  } catch (error) {
    body.textContent = `preview failed: ${error.message}`;
  }
}

// --- events --------------------------------------------------------------------------------

function showMode(mode) {
  S.mode = mode;
  $("images-view").hidden = mode !== "images";
  $("ratings-view").hidden = mode !== "ratings";
  $("tab-images").classList.toggle("active", mode === "images");
  $("tab-ratings").classList.toggle("active", mode === "ratings");
  if (mode === "ratings") loadRatings();
  else renderGrid();
}

function onKey(event) {
  if (["INPUT", "SELECT", "TEXTAREA"].includes(event.target.tagName)) return;
  if (event.key === "Escape") return closeDetail();
  if (S.mode === "ratings") return onRatingKey(event);
  const keys = { a: "accept", r: "reject", s: "star" };
  if (keys[event.key] && !event.ctrlKey && !event.metaKey) return decide(targets(), keys[event.key]);
  if (event.key === "u") return undo();
  if (event.key === "Enter" && S.view.length) return openDetail(S.focus);
  const steps = {
    ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columnsOf(), ArrowDown: columnsOf(),
    Home: -S.view.length, End: S.view.length,
  };
  if (!(event.key in steps) || !S.view.length) return;
  event.preventDefault(); // the grid's own scrolling would fight the focus's
  const k = Math.min(S.view.length - 1, Math.max(0, S.focus + steps[event.key]));
  if (event.shiftKey) {
    if (S.anchor === null) S.anchor = S.focus;
    select(k, { shiftKey: true });
  } else {
    select(k, null);
  }
  scrollToFocus();
  renderGrid();
}

function onRatingKey(event) {
  if (!S.rateables.length) return;
  const file = S.rateables[S.rfocus].file;
  if (/^[1-5]$/.test(event.key)) return rate(file, Number(event.key));
  if (event.key === "0") return rate(file, null);
  const steps = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -1, ArrowDown: 1 };
  if (!(event.key in steps)) return;
  event.preventDefault();
  S.rfocus = Math.min(S.rateables.length - 1, Math.max(0, S.rfocus + steps[event.key]));
  renderRatings();
  document.querySelector(".rating-tile.focused")?.scrollIntoView({ block: "nearest" });
}

function wire() {
  for (const select of document.querySelectorAll("#filters select")) {
    select.addEventListener("change", () => {
      applyFilters();
      select.blur(); // the keys act on the grid again
    });
  }
  $("grid").addEventListener("scroll", scheduleRender);
  window.addEventListener("resize", scheduleRender);
  $("spacer").addEventListener("click", (event) => {
    const node = event.target.closest(".tile");
    if (node) select(Number(node.dataset.k), event);
  });
  $("spacer").addEventListener("dblclick", (event) => {
    const node = event.target.closest(".tile");
    if (node) openDetail(Number(node.dataset.k));
  });
  for (const button of document.querySelectorAll("[data-bulk]")) {
    button.addEventListener("click", () => {
      const value = button.dataset.bulk;
      decide([...S.selected], value === "clear" ? null : value);
    });
  }
  $("ratings").addEventListener("click", (event) => {
    const node = event.target.closest(".tile");
    if (!node) return;
    S.rfocus = Number(node.dataset.k);
    if (event.target.dataset.rating) rate(node.dataset.file, Number(event.target.dataset.rating));
    else renderRatings();
  });
  $("detail-close").addEventListener("click", closeDetail);
  $("orphans").addEventListener("click", () => {
    send(S.orphans.map((file) => ({ file, decision: null })), `withdrawn: ${S.orphans.length} decision(s)`);
  });
  $("tab-images").addEventListener("click", () => showMode("images"));
  $("tab-ratings").addEventListener("click", () => showMode("ratings"));
  document.addEventListener("keydown", onKey);
  window.addEventListener("focus", refreshDecisions); // another tab may have decided meanwhile
  setInterval(refreshDecisions, 20000);
}

wire();
load().catch((error) => status(`cannot load the catalog: ${error.message}`, true));
