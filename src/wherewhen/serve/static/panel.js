// One model's explanation of the chosen video: the job that makes it, the video with the heatmap in sync, the
// clickable timeline, frame stepping, the top 5, the frame's own class, segments and ground truth.

import { api, element, followJob, percent, postJSON } from "./api.js";
import { drawOverlay, drawTimeline, rowAt } from "./draw.js";

export class Panel {
  constructor(container, onTime) {
    const node = document.getElementById("panel-template").content.firstElementChild.cloneNode(true);
    container.append(node);
    this.node = node;
    this.onTime = onTime; // (time, playing) after every change of the playhead
    this.result = null;
    this.times = [];
    this.marks = { rows: [], chosen: [] };
    this.q = (selector) => node.querySelector(selector);
    this.video = this.q("video");
    this.overlay = this.q("canvas.overlay");
    this.timeline = this.q("canvas.timeline");
    this.node.dataset.state = "idle";
    this.bind();
  }

  bind() {
    const v = this.video;
    for (const name of ["timeupdate", "seeked", "loadeddata", "pause", "play"]) v.addEventListener(name, () => this.draw());
    v.addEventListener("play", () => this.loop());
    this.timeline.addEventListener("click", (event) => {
      const box = this.timeline.getBoundingClientRect();
      this.video.pause();
      this.seek(((event.clientX - box.left) / box.width) * this.duration);
    });
    this.q(".play").addEventListener("click", () => this.toggle());
    this.q(".prev-frame").addEventListener("click", () => this.stepFrame(-1));
    this.q(".next-frame").addEventListener("click", () => this.stepFrame(1));
    this.q(".prev-row").addEventListener("click", () => this.stepRow(-1));
    this.q(".next-row").addEventListener("click", () => this.stepRow(1));
    this.q(".cancel").addEventListener("click", () => this.job && postJSON(`/api/jobs/${this.job.id}/cancel`, {}));
    new ResizeObserver(() => this.draw()).observe(this.video);
  }

  get duration() {
    return this.result ? this.result.explanation.video.duration : 0;
  }

  get fps() {
    return this.result ? this.result.explanation.video.fps : 25;
  }

  async explain(run, video, settings) {
    this.q(".panel-title").textContent = `${run.name} (${run.model})`;
    this.q(".result").hidden = true;
    this.q(".error").hidden = true;
    this.node.dataset.state = "running";
    const jobBox = this.q(".job");
    jobBox.hidden = false;
    try {
      this.job = await postJSON("/api/explain", { run: run.id, video, ...settings });
      this.job = await followJob(this.job, (job) => {
        this.job = job;
        jobBox.querySelector("progress").value = job.progress;
        jobBox.querySelector(".job-message").textContent = job.message;
      });
      jobBox.hidden = true;
      if (this.job.state !== "done") throw new Error(this.job.error || `the explanation was ${this.job.state}`);
      this.show(this.job.result);
    } catch (error) {
      jobBox.hidden = true;
      this.fail(error.message);
    }
  }

  fail(message) {
    const box = this.q(".error");
    box.textContent = message;
    box.hidden = false;
    this.node.dataset.state = "failed";
  }

  show(result) {
    this.result = result;
    const e = result.explanation;
    this.times = e.frames.map((f) => f.time_s);
    this.q(".result").hidden = false;
    this.video.src = result.preview;
    this.q(".label").textContent = `${e.label} (${percent(e.confidence)})`;
    this.renderTop5(e);
    this.renderSegments(result.detections);
    this.q(".truth").textContent = result.truth_line ? `Ground truth: ${result.truth_line}.` : "";
    const mode = result.mode === "sliding" ? `Sliding clips over the whole video: ${result.plan.describe}. ` : "";
    const chosen = result.chosen ? `Attends to the ${result.chosen.length} chosen frames. ` : "";
    this.q(".notes").textContent = mode + chosen + (result.notes || []).join(" ");
    this.node.dataset.state = "done";
    this.draw();
  }

  renderTop5(e) {
    const table = this.q(".top5");
    table.replaceChildren();
    for (const [name, p] of e.top5) {
      const bar = element("span", { class: "bar", style: `width:${(100 * p).toFixed(1)}%` });
      table.append(element("tr", {}, element("td", { class: "name" }, name), element("td", {}, percent(p)),
        element("td", { class: "barcell" }, bar)));
    }
  }

  renderSegments(rows) {
    const table = this.q(".segments");
    table.replaceChildren(element("tr", {}, ...["video", "start", "end", "class", "score"].map((h) => element("th", {}, h))));
    for (const [video, start, end, label, score] of rows) {
      const tr = element("tr", {}, element("td", { class: "name" }, video), element("td", {}, start.toFixed(2)),
        element("td", {}, end.toFixed(2)), element("td", { class: "name" }, label), element("td", {}, score.toFixed(3)));
      tr.addEventListener("click", () => this.seek(start));
      table.append(tr);
    }
    if (!rows.length) table.append(element("tr", {}, element("td", { colspan: 5 }, "no attended segment")));
  }

  setMarks(marks) {
    this.marks = marks;
    this.draw();
  }

  seek(t) {
    this.video.currentTime = Math.min(Math.max(0, t), Math.max(0, this.duration - 1e-3));
  }

  follow(t, playing) {
    if (!this.result) return;
    if (Math.abs(this.video.currentTime - t) > 0.5 / this.fps) this.video.currentTime = t;
    if (playing && this.video.paused) this.video.play().catch(() => {});
    if (!playing && !this.video.paused) this.video.pause();
  }

  toggle() {
    if (this.video.paused) this.video.play().catch(() => {});
    else this.video.pause();
  }

  // One frame of the video on: frame i is shown from i / fps seconds on, so aim at the middle of the next one.
  stepFrame(k) {
    this.video.pause();
    const frame = Math.floor(this.video.currentTime * this.fps + 1e-3);
    this.seek((frame + k + 0.5) / this.fps);
  }

  stepRow(k) {
    this.video.pause();
    const row = rowAt(this.times, this.video.currentTime);
    const next = Math.min(Math.max(0, row + k), this.times.length - 1);
    this.seek(this.times[next] + 0.5 / this.fps);
  }

  loop() {
    const tick = () => {
      this.draw();
      if (!this.video.paused && !this.video.ended) this.frameRequest(tick);
    };
    this.frameRequest(tick);
  }

  frameRequest(callback) {
    if ("requestVideoFrameCallback" in this.video) this.video.requestVideoFrameCallback(callback);
    else requestAnimationFrame(callback);
  }

  draw() {
    if (!this.result) return;
    const e = this.result.explanation;
    const t = this.video.currentTime;
    const ratio = window.devicePixelRatio || 1;
    this.overlay.width = Math.max(1, Math.round(this.video.clientWidth * ratio));
    this.overlay.height = Math.max(1, Math.round(this.video.clientHeight * ratio));
    const row = rowAt(this.times, t);
    const frame = e.frames[row];
    if (drawOverlay(this.overlay, e, frame)) this.overlay.dataset.row = String(row);
    drawTimeline(this.timeline, e, this.marks, t);
    this.q(".play").textContent = this.video.paused ? "\u25B6 play" : "\u275A\u275A pause";
    this.q(".clock").textContent = `${t.toFixed(2)} / ${this.duration.toFixed(2)} s, frame ${Math.floor(t * this.fps + 1e-3)}`;
    this.q(".now").textContent = frame ? this.describeFrame(frame, row) : "";
    if (this.onTime) this.onTime(t, !this.video.paused);
  }

  describeFrame(frame, row) {
    const own = frame.frame_label
      ? `this frame's own class: ${frame.frame_label} (${percent(frame.frame_confidence)})`
      : `class of the clips around it: ${this.clipClass(row)}`;
    return `explained frame ${frame.index} at ${frame.time_s.toFixed(2)} s: temporal weight ${frame.weight.toFixed(4)}; ${own}`;
  }

  clipClass(row) {
    const e = this.result.explanation;
    const segment = e.segments.find((s) => s.start_s <= e.frames[row].time_s && e.frames[row].time_s < s.end_s);
    return segment && segment.label ? `${segment.label} (${percent(segment.confidence)})` : `${e.label} (${percent(e.confidence)})`;
  }
}

export async function loadVideoInfo(id) {
  return api(`/api/video?id=${encodeURIComponent(id)}`);
}
