// Human frame selection of a feature-store video: mark the cube rows where the action is and save them as the
// store's selection file (the JSON lrcn_st with model.temporal=given trains on).

import { element, postJSON } from "./api.js";

export class Selection {
  constructor(onChange) {
    this.onChange = onChange; // (marks) when the chosen rows change
    this.info = null;
    this.chosen = new Set();
    this.box = document.getElementById("selection");
    document.getElementById("mark").addEventListener("click", () => this.toggleAt(this.now()));
    document.getElementById("clear-selection").addEventListener("click", () => this.clear());
    document.getElementById("save-selection").addEventListener("click", () => this.save());
    this.now = () => 0;
  }

  // The video's rows and saved selection (``/api/video``); the section shows only for feature-store videos.
  use(info, now) {
    this.info = info && info.selectable ? info : null;
    this.now = now;
    this.chosen = new Set(this.info && this.info.chosen ? this.info.chosen : []);
    this.box.hidden = !this.info;
    document.getElementById("selection-status").textContent = "";
    document.getElementById("selection-command").hidden = true;
    if (this.info) document.getElementById("selection-video").textContent = this.info.name;
    this.render();
  }

  time(row) {
    return this.info.rows[row] / this.info.fps;
  }

  toggleAt(t) {
    if (!this.info) return;
    let best = 0;
    this.info.rows.forEach((_, row) => {
      if (Math.abs(this.time(row) - t) < Math.abs(this.time(best) - t)) best = row;
    });
    if (this.chosen.has(best)) this.chosen.delete(best);
    else this.chosen.add(best);
    this.render();
  }

  clear() {
    this.chosen.clear();
    this.render();
  }

  rows() {
    return [...this.chosen].sort((a, b) => a - b);
  }

  marks() {
    if (!this.info) return { rows: [], chosen: [] };
    return { rows: this.info.rows.map((_, r) => this.time(r)), chosen: this.rows().map((r) => this.time(r)) };
  }

  render() {
    const chips = document.getElementById("chosen-rows");
    chips.replaceChildren();
    if (this.info) {
      for (const row of this.rows()) {
        chips.append(element("span", { class: "chip" }, `row ${row} (frame ${this.info.rows[row]}, ${this.time(row).toFixed(2)} s)`));
      }
      const total = this.info.rows.length;
      document.getElementById("selection-count").textContent = `${this.chosen.size} of ${total} rows chosen`;
    }
    this.onChange(this.marks());
  }

  async save() {
    const status = document.getElementById("selection-status");
    try {
      const saved = await postJSON(`/api/selections/${this.info.store}`, { video: this.info.id, rows: this.rows() });
      const count = (saved.selection[this.info.video_id] || []).length;
      status.textContent = `Saved ${count} rows of ${this.info.name} in ${saved.path} ` +
        `(${Object.keys(saved.selection).length} videos chosen in this store). Train on it with:`;
      const command = document.getElementById("selection-command");
      command.textContent = saved.command;
      command.hidden = false;
    } catch (error) {
      status.textContent = `Not saved: ${error.message}`;
    }
  }
}
