// Drawing an explanation: the attention heatmap and boxes over the playing video, and the timeline of temporal
// attention. Coordinates in an explanation are pixels of the original frame; the overlay scales them to the
// displayed video.

const SEGMENT = "rgba(47, 111, 192, 0.18)";
const TRUTH = "#d21cc0";
const BOX = "#22c55e";
const CHOSEN = "#15803d";

// The jet colour map of OpenCV and matplotlib, value in [0, 1].
export function jet(v) {
  const channel = (x) => Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * v - x))));
  return [channel(3), channel(2), channel(1)];
}

// The index of the explained frame shown at time t: the last one that starts at or before t (the first before it).
export function rowAt(times, t) {
  let lo = 0;
  let hi = times.length - 1;
  if (hi < 0) return -1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (times[mid] <= t + 1e-6) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// The K x K map drawn as `wherewhen explain` draws it (explain/heatmap.py, without the Gaussian): divided by its
// maximum, upsampled bilinearly, only the pixels above the 80th percentile kept, stretched to [0, 1], coloured
// with jet at opacity 0.5. A uniform map (a model that does not attend in space) shows nothing.
const PERCENTILE = 0.8;
const ALPHA = 0.5;
const UPSAMPLE = 8;

function upsampled(attention) {
  const k = attention.length;
  const n = k * UPSAMPLE;
  const at = (i) => Math.min(k - 1, Math.max(0, i));
  const values = new Float64Array(n * n);
  for (let y = 0; y < n; y++) {
    const sy = Math.max(0, (y + 0.5) / UPSAMPLE - 0.5);
    const y0 = Math.floor(sy);
    const fy = sy - y0;
    for (let x = 0; x < n; x++) {
      const sx = Math.max(0, (x + 0.5) / UPSAMPLE - 0.5);
      const x0 = Math.floor(sx);
      const fx = sx - x0;
      const row = (r) => attention[at(r)][at(x0)] * (1 - fx) + attention[at(r)][at(x0 + 1)] * fx;
      values[y * n + x] = row(y0) * (1 - fy) + row(y0 + 1) * fy;
    }
  }
  return { n, values };
}

export function mapImage(attention) {
  const { n, values } = upsampled(attention);
  const sorted = Float64Array.from(values).sort();
  const top = sorted[sorted.length - 1];
  const floor = sorted[Math.floor(PERCENTILE * (sorted.length - 1))];
  const image = new ImageData(n, n);
  values.forEach((value, i) => {
    if (!(top > floor) || value <= floor) return;
    const [r, g, b] = jet((value - floor) / (top - floor));
    image.data.set([r, g, b, Math.round(255 * ALPHA)], 4 * i);
  });
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = n;
  canvas.getContext("2d").putImageData(image, 0, 0);
  return canvas;
}

function strokeBox(ctx, box, sx, sy, colour, dashed) {
  const [x1, y1, x2, y2] = box;
  ctx.save();
  ctx.strokeStyle = colour;
  ctx.lineWidth = 2 * (window.devicePixelRatio || 1);
  if (dashed) ctx.setLineDash([6, 4]);
  ctx.strokeRect(x1 * sx, y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy);
  ctx.restore();
}

// Heatmap, attention box and ground-truth box of one explained frame over the video, on the overlay canvas.
export function drawOverlay(canvas, explanation, frame) {
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!frame) return false;
  const sx = canvas.width / explanation.video.width;
  const sy = canvas.height / explanation.video.height;
  const [cx, cy, cw, ch] = explanation.crop;
  ctx.save();
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(mapImage(frame.attention), cx * sx, cy * sy, cw * sx, ch * sy);
  ctx.restore();
  if (frame.box) strokeBox(ctx, frame.box, sx, sy, BOX, false);
  if (frame.truth_box) strokeBox(ctx, frame.truth_box, sx, sy, TRUTH, true);
  return true;
}

// The timeline: bars of temporal weight, attended segments with their class, ground-truth segments, the rows of
// a frame selection (grey: the store's rows, green: the chosen ones) and the playhead.
export function drawTimeline(canvas, explanation, marks, time) {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(canvas.clientWidth * ratio));
  canvas.height = Math.max(1, Math.round(canvas.clientHeight * ratio));
  const ctx = canvas.getContext("2d");
  const w = canvas.width;
  const h = canvas.height;
  const top = 16 * ratio;
  const bottom = h - 12 * ratio;
  const duration = Math.max(explanation.video.duration, 1e-6);
  const x = (t) => (t / duration) * w;
  ctx.clearRect(0, 0, w, h);
  ctx.font = `${10 * ratio}px system-ui, sans-serif`;
  for (const s of explanation.segments) {
    ctx.fillStyle = SEGMENT;
    ctx.fillRect(x(s.start_s), top, Math.max(1, x(s.end_s) - x(s.start_s)), bottom - top);
    ctx.fillStyle = "#2f6fc0";
    const text = s.label ? `${s.label} ${(100 * s.confidence).toFixed(0)}%` : `score ${s.score.toFixed(2)}`;
    ctx.fillText(text, x(s.start_s) + 3 * ratio, top + 11 * ratio);
  }
  ctx.fillStyle = TRUTH;
  for (const [start, end] of explanation.truth_segments) ctx.fillRect(x(start), 2 * ratio, x(end) - x(start), 5 * ratio);
  const weights = explanation.frames.map((f) => f.weight);
  const peak = Math.max(...weights, 2 / Math.max(1, weights.length));
  const bar = Math.max(1, (0.7 * w) / Math.max(1, weights.length));
  ctx.fillStyle = "#f0a000";
  explanation.frames.forEach((f) => {
    const height = (f.weight / peak) * (bottom - top);
    ctx.fillRect(x(f.time_s) - bar / 2, bottom - height, bar, height);
  });
  for (const t of marks.rows || []) {
    ctx.fillStyle = "#99a";
    ctx.fillRect(x(t) - ratio / 2, bottom + 2 * ratio, ratio, 4 * ratio);
  }
  for (const t of marks.chosen || []) {
    ctx.fillStyle = CHOSEN;
    ctx.fillRect(x(t) - 2 * ratio, bottom + 1 * ratio, 4 * ratio, 10 * ratio);
  }
  ctx.fillStyle = "#e11";
  ctx.fillRect(x(time) - ratio, 0, 2 * ratio, h);
}
