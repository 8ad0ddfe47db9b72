// The page: choose a video (a store's or benchmark's, or an upload) and one or two models, watch their
// explanations side by side, mark frames for a frame selection, browse a run's evaluation.

import { api, element } from "./api.js";
import { Evaluation } from "./evaluation.js";
import { loadVideoInfo, Panel } from "./panel.js";
import { Selection } from "./selection.js";

const $ = (id) => document.getElementById(id);
const state = { catalog: null, panels: [], selection: null };

function fillRuns() {
  for (const id of ["run", "compare", "eval-run"]) {
    const select = $(id);
    const keep = id === "compare" ? [select.options[0]] : [];
    select.replaceChildren(...keep);
    for (const run of state.catalog.runs) {
      const extra = run.takes_selection ? ", attends to chosen frames" : "";
      select.append(element("option", { value: run.id }, `${run.name} (${run.model}${extra})`));
    }
  }
}

function fillVideos(selected) {
  const select = $("video");
  select.replaceChildren();
  for (const store of state.catalog.stores) {
    const group = element("optgroup", { label: `${store.name} (${store.kind})` });
    for (const v of store.videos) {
      const about = [v.label, v.split].filter(Boolean).join(", ");
      group.append(element("option", { value: v.id }, about ? `${v.name} (${about})` : v.name));
    }
    select.append(group);
  }
  if (state.catalog.uploads.length) {
    const group = element("optgroup", { label: "uploads" });
    for (const v of state.catalog.uploads) group.append(element("option", { value: v.id }, v.name));
    select.append(group);
  }
  if (selected) select.value = selected;
}

async function loadCatalog(selected) {
  state.catalog = await api("/api/catalog");
  fillRuns();
  fillVideos(selected);
}

function runById(id) {
  return state.catalog.runs.find((r) => r.id === id);
}

function settings(run) {
  const number = (id) => ($(id).value === "" ? null : Number($(id).value));
  const chosen = run.takes_selection && state.selection.rows().length ? state.selection.rows() : null;
  return { sliding: $("sliding").value, window: number("window"), stride: number("stride"), rate: number("rate"), chosen };
}

// Explain the chosen video with the chosen model (and the one to compare with), in one or two panels.
async function explain() {
  const video = $("video").value;
  const runs = [runById($("run").value), runById($("compare").value)].filter(Boolean);
  if (!video || !runs.length) return;
  const box = $("panels");
  box.replaceChildren();
  box.classList.toggle("compare", runs.length > 1);
  state.panels = runs.map((run, k) => new Panel(box, k === 0 ? (t, playing) => follow(t, playing) : null));
  try {
    state.selection.use(await loadVideoInfo(video), () => (state.panels[0] ? state.panels[0].video.currentTime : 0));
  } catch (error) {
    state.selection.use(null, () => 0);
    state.panels.forEach((panel) => panel.fail(error.message));
    return;
  }
  await Promise.all(state.panels.map((panel, k) => panel.explain(runs[k], video, settings(runs[k]))));
}

// The second panel follows the first one's playhead.
function follow(t, playing) {
  for (const panel of state.panels.slice(1)) panel.follow(t, playing);
}

async function upload(file) {
  const status = $("upload-status");
  const error = $("upload-error");
  error.hidden = true;
  const limit = state.catalog.limits.max_upload_bytes;
  try {
    if (file.size > limit) {
      throw new Error(`${file.name} is ${(file.size / 2 ** 20).toFixed(1)} MB; uploads are limited to ${limit / 2 ** 20} MB`);
    }
    status.textContent = `uploading ${file.name}...`;
    const headers = { "Content-Type": "application/octet-stream", "X-Filename": encodeURIComponent(file.name) };
    const stored = await api("/api/upload", { method: "POST", headers, body: file });
    status.textContent = `${stored.name}: ${stored.info.frames} frames, ${stored.info.duration.toFixed(1)} s, ` +
      `${stored.info.width} x ${stored.info.height}; choose a model and explain it`;
    await loadCatalog(stored.id);
  } catch (failure) {
    status.textContent = "";
    error.textContent = `Upload refused: ${failure.message}`;
    error.hidden = false;
  } finally {
    $("upload").value = "";
  }
}

function showTab(name) {
  for (const tab of document.querySelectorAll(".tab")) tab.classList.toggle("active", tab.dataset.tab === name);
  $("watch").hidden = name !== "watch";
  $("evaluation").hidden = name !== "evaluation";
}

function keys(event) {
  const panel = state.panels[0];
  if (!panel || ["INPUT", "SELECT", "TEXTAREA"].includes(event.target.tagName)) return;
  const actions = {
    ArrowLeft: () => panel.stepFrame(-1),
    ArrowRight: () => panel.stepFrame(1),
    " ": () => panel.toggle(),
    m: () => state.selection.toggleAt(panel.video.currentTime),
  };
  if (actions[event.key]) {
    event.preventDefault();
    actions[event.key]();
  }
}

async function main() {
  state.selection = new Selection((marks) => state.panels.forEach((p) => p.setMarks(marks)));
  const evaluation = new Evaluation(async (run, video) => {
    showTab("watch");
    $("run").value = run;
    $("video").value = video;
    await explain();
  });
  $("explain").addEventListener("click", explain);
  $("upload").addEventListener("change", (event) => event.target.files[0] && upload(event.target.files[0]));
  for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => showTab(tab.dataset.tab));
  document.addEventListener("keydown", keys);
  await loadCatalog();
  document.body.dataset.ready = "true";
  window.wherewhen = { state, evaluation };
}

main().catch((error) => {
  $("upload-error").textContent = `The page could not start: ${error.message}`;
  $("upload-error").hidden = false;
});
