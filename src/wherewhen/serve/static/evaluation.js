// A run's evaluation: the metrics, the per-class table, the confusion matrix and its test videos, sorted by
// confidence or by how the attention met the ground truth, each one click from its explanation.

import { element, followJob, percent, postJSON } from "./api.js";

export class Evaluation {
  constructor(onExplain) {
    this.onExplain = onExplain; // (run id, video id)
    this.result = null;
    document.getElementById("evaluate").addEventListener("click", () => this.load(document.getElementById("eval-run").value));
    document.getElementById("eval-sort").addEventListener("change", () => this.renderVideos());
  }

  async load(run) {
    const jobBox = document.getElementById("eval-job");
    const errorBox = document.getElementById("eval-error");
    errorBox.hidden = true;
    jobBox.hidden = false;
    try {
      let job = await postJSON("/api/evaluate", { run });
      job = await followJob(job, (j) => {
        jobBox.querySelector("progress").value = j.progress;
        jobBox.querySelector(".job-message").textContent = j.message;
      });
      if (job.state !== "done") throw new Error(job.error || `the evaluation was ${job.state}`);
      this.result = job.result;
      this.render();
    } catch (error) {
      errorBox.textContent = error.message;
      errorBox.hidden = false;
    } finally {
      jobBox.hidden = true;
    }
  }

  render() {
    const m = this.result.metrics;
    const rows = [["videos", m.videos]];
    const c = m.classification;
    if (c) rows.push(["top-1", percent(c.top1)], ["top-5", percent(c.top5)], ["mean class accuracy", percent(c.mean_class_accuracy)]);
    if (m.spatial && m.spatial.pointing_game !== undefined) {
      rows.push(["pointing game", percent(m.spatial.pointing_game)]);
      for (const [iou, v] of Object.entries(m.spatial.frame_map)) rows.push([`frame-mAP @ IoU ${iou}`, percent(v)]);
    }
    if (m.temporal && m.temporal.map) {
      for (const [tiou, v] of Object.entries(m.temporal.map)) rows.push([`temporal mAP @ tIoU ${tiou}`, percent(v)]);
    }
    const table = document.getElementById("metrics");
    table.replaceChildren(...rows.map(([k, v]) => element("tr", {}, element("td", { class: "name" }, k), element("td", {}, v))));
    document.getElementById("protocol").textContent = `${this.result.run_name}, split ${this.result.split}. ` + m.protocol.join(" ");
    const image = document.getElementById("confusion");
    image.hidden = !this.result.confusion;
    if (this.result.confusion) image.src = this.result.confusion;
    this.renderPerClass(c);
    this.renderVideos();
    document.getElementById("eval-result").hidden = false;
  }

  renderPerClass(c) {
    const table = document.getElementById("per-class");
    const head = element("tr", {}, ...["class", "videos", "top-1", "top-5", "most confused with"].map((h) => element("th", {}, h)));
    table.replaceChildren(head);
    for (const row of c ? c.per_class : []) {
      const confused = row.most_confused_with ? `${row.most_confused_with} (${row.confused_count})` : "";
      table.append(element("tr", {}, element("td", { class: "name" }, row.class), element("td", {}, row.videos),
        element("td", {}, percent(row.top1)), element("td", {}, percent(row.top5)), element("td", { class: "name" }, confused)));
    }
  }

  renderVideos() {
    if (!this.result) return;
    const [key, order] = document.getElementById("eval-sort").value.split("-");
    const hit = (v) => (v.pointing ?? -1) + (v.segment_weight ?? -1) / 1000;
    const value = key === "hit" ? hit : (v) => v.confidence;
    const videos = [...this.result.videos].sort((a, b) => (order === "asc" ? value(a) - value(b) : value(b) - value(a)));
    const head = ["video", "label", "predicted", "confidence", "peak in box", "weight in segment", ""];
    const table = document.getElementById("eval-videos");
    table.replaceChildren(element("tr", {}, ...head.map((h) => element("th", {}, h))));
    for (const v of videos) {
      const button = element("button", { class: "explain-video", onclick: () => this.onExplain(this.result.run, v.video) }, "explain");
      if (!v.video) button.disabled = true;
      table.append(element("tr", { "data-video": v.video || "" },
        element("td", { class: "name" }, v.name), element("td", { class: "name" }, v.label ?? ""),
        element("td", { class: `name ${v.correct ? "ok" : "wrong"}` }, v.predicted), element("td", {}, percent(v.confidence)),
        element("td", {}, v.frames_with_box ? `${percent(v.pointing)} of ${v.frames_with_box}` : "–"),
        element("td", {}, percent(v.segment_weight)), element("td", {}, button)));
    }
  }
}
