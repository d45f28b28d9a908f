// charfolio review: the full-size view of one image, and the ratings view (storyboard frames
// and checkpoint images rated 1-5).
"use strict";

// --- the full-size view --------------------------------------------------------------------

async function openDetail(k) {
  const file = S.view[k].file;
  $("detail").hidden = false;
  $("detail-file").textContent = file;
  $("detail-image").src = fileUrl("image", file);
  try {
    const row = await api(`api/detail?file=${encodeURIComponent(file)}`);
    const prompts = $("detail-prompts");
    prompts.replaceChildren();
    for (const key of ["prompt", "negative_prompt", "seed"]) {
      prompts.append(el("dt", "", key), el("dd", key.replace("_", "-"), String(row[key] ?? "")));
    }
    $("detail-settings").textContent = row.settings_json || "";
    const fields = $("detail-fields");
    fields.replaceChildren();
    for (const [key, value] of Object.entries(row)) {
      if (["prompt", "negative_prompt", "seed", "settings_json"].includes(key)) continue;
      const tr = el("tr");
      tr.append(el("td", "", key), el("td", "", typeof value === "object" ? JSON.stringify(value) : String(value)));
      fields.append(tr);
    }
  } catch (error) {
    status(`cannot show ${file}: ${error.message}`, true);
  }
}

function closeDetail() {
  $("detail").hidden = true;
  $("detail-image").removeAttribute("src");
}

// --- ratings -------------------------------------------------------------------------------

async function loadRatings() {
  try {
    const answer = await api("api/rateables");
    S.rateables = answer.items;
    S.ratings = answer.ratings;
    renderRatings();
    status(`${S.rateables.length} frames and checkpoint images · ratings go to ${answer.ratings_file}`);
  } catch (error) {
    status(`cannot list boards: ${error.message}`, true);
  }
}

function renderRatings() {
  const root = $("ratings");
  root.replaceChildren();
  if (!S.rateables.length) root.append(el("p", "", "no storyboards or checkpoint images yet"));
  let group = null;
  let row = null;
  S.rateables.forEach((item, k) => {
    if (item.group !== group) {
      group = item.group;
      row = el("div", "rating-group");
      root.append(el("h3", "", group), row);
    }
    const node = el("div", "tile rating-tile");
    node.dataset.k = String(k);
    node.dataset.file = item.file;
    if (k === S.rfocus) node.classList.add("focused");
    const img = el("img");
    img.src = fileUrl("thumb", item.file);
    img.alt = item.file;
    node.append(img, el("div", "meta", item.label));
    const stars = el("div", "stars");
    for (const value of [1, 2, 3, 4, 5]) {
      const button = el("button", S.ratings[item.file] === value ? "on" : "", String(value));
      button.type = "button";
      button.dataset.rating = String(value);
      stars.append(button);
    }
    node.append(stars);
    row.append(node);
  });
}

async function rate(file, value) {
  try {
    const answer = await api("api/ratings", { changes: [{ file, rating: value }] });
    S.ratings = answer.ratings;
    renderRatings();
    status(value === null ? `rating of ${file} cleared` : `${file}: ${value}`);
  } catch (error) {
    status(`not saved: ${error.message}`, true);
  }
}

// Decisions on images the catalog no longer has: a button withdraws them.
function showOrphans(orphans) {
  const button = $("orphans");
  S.orphans = orphans || [];
  button.hidden = !S.orphans.length;
  button.textContent = `withdraw ${S.orphans.length} decision(s) on images no longer in the catalog`;
  button.title = S.orphans.join("\n");
}
