"""The explanation as JSON (every per-frame map, box and segment) and as one self-contained HTML page.

The page has inline CSS and an inline SVG timeline, no scripts and no external URLs; it shows the MP4, PNG and
JSON that sit in the same folder through relative links, so the folder can be moved or zipped as a whole.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from pathlib import Path

from wherewhen.atomic import atomic_write_text
from wherewhen.explain.explanation import Explanation, truth_line

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem auto; max-width: 1100px;
       color: #222; padding: 0 1rem; }
h1 { font-size: 1.4rem; margin-bottom: 0.2rem; } h2 { font-size: 1.1rem; margin-top: 1.8rem; }
.meta { color: #666; font-size: 0.9rem; }
.label { font-size: 1.25rem; font-weight: 600; }
table { border-collapse: collapse; font-size: 0.85rem; }
td, th { padding: 0.2rem 0.6rem; text-align: right; border-bottom: 1px solid #eee; }
th { background: #f6f6f6; } td.name, th.name { text-align: left; }
.bar { background: #f0a000; height: 0.7rem; display: inline-block; vertical-align: middle; }
.top5 .bar { background: #3a78c3; height: 0.9rem; }
video, img.sheet { max-width: 100%; border: 1px solid #ddd; }
svg { width: 100%; height: auto; background: #fafafa; border: 1px solid #ddd; }
.truth { font-weight: 600; }
"""
TRUTH_COLOUR = "#ff00ff"  # as overlay.TRUTH_COLOUR


def write_json(explanation: Explanation, path: Path) -> Path:
    atomic_write_text(Path(path), explanation.to_json(indent=1) + "\n")
    return Path(path)


def _fmt_box(box: tuple[float, float, float, float] | None) -> str:
    return "none" if box is None else ", ".join(f"{v:.0f}" for v in box)


def timeline_svg(explanation: Explanation, width: int = 1000, height: int = 140) -> str:
    """Inline SVG: temporal weight of each frame over time (bars), attended segments shaded, the uniform level, the
    ground-truth segments as a band along the top with their edges marked (``timeline_legend`` names them)."""
    pad_l, pad_r, pad_t, pad_b = 50, 10, 10, 28
    times, weights = explanation.times, explanation.weights
    duration = max(explanation.video.duration, float(times.max()) if times.size else 0.0, 1e-6)
    # as in the MP4's timeline: uniform attention (1/T) never reaches above half height
    peak = max(float(weights.max()) if weights.size else 0.0, 2.0 / max(1, len(weights)))
    inner_w, inner_h = width - pad_l - pad_r, height - pad_t - pad_b

    def x(t: float) -> float:
        return pad_l + t / duration * inner_w

    def y(w: float) -> float:
        return pad_t + inner_h * (1 - w / peak)

    parts = [f'<svg viewBox="0 0 {width} {height}" role="img">']
    parts.append(f"<title>temporal attention of {len(weights)} frames</title>")
    for seg in explanation.segments:
        parts.append(
            f'<rect x="{x(seg.start_s):.1f}" y="{pad_t}" width="{max(x(seg.end_s) - x(seg.start_s), 1):.1f}" '
            f'height="{inner_h}" fill="#3a78c3" fill-opacity="0.15"><title>segment {seg.start_s:.2f}-'
            f"{seg.end_s:.2f} s, score {seg.score:.2f}</title></rect>"
        )
    bar = max(1.0, 0.6 * inner_w / max(1, len(weights)))
    for f in explanation.frames:
        top = y(f.weight)
        parts.append(
            f'<rect x="{x(f.time_s) - bar / 2:.1f}" y="{top:.1f}" width="{bar:.1f}" '
            f'height="{pad_t + inner_h - top:.1f}"'
            f' fill="#f0a000"><title>frame {f.index}, {f.time_s:.2f} s, weight {f.weight:.4f}</title></rect>'
        )
    uniform = 1.0 / max(1, len(weights))
    parts.append(
        f'<line x1="{pad_l}" x2="{pad_l + inner_w}" y1="{y(uniform):.1f}" y2="{y(uniform):.1f}" stroke="#888" '
        'stroke-dasharray="4 3"><title>uniform weight 1/T</title></line>'
    )
    axis_y = pad_t + inner_h
    parts.append(f'<line x1="{pad_l}" x2="{pad_l + inner_w}" y1="{axis_y}" y2="{axis_y}" stroke="#444"/>')
    steps = 5
    for k in range(steps + 1):
        t = duration * k / steps
        parts.append(
            f'<text x="{x(t):.1f}" y="{axis_y + 16}" font-size="11" text-anchor="middle" fill="#444">{t:.1f}s</text>'
        )
    parts += truth_svg(explanation, x, pad_t, inner_h)
    parts.append(f'<text x="4" y="{pad_t + 10}" font-size="11" fill="#444">{peak:.3f}</text>')
    parts.append(f'<text x="4" y="{axis_y}" font-size="11" fill="#444">0</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def truth_svg(explanation: Explanation, x: Callable[[float], float], top: float, height: float) -> list[str]:
    """The SVG elements of the ground-truth segments: a band along the top and a line at each edge."""
    parts = []
    right = x(explanation.video.duration)
    for start, end in explanation.truth_segments:
        x0, x1 = x(start), min(x(end), right)
        if x0 > x1:
            continue
        parts.append(
            f'<rect x="{x0:.1f}" y="{top}" width="{max(x1 - x0, 1):.1f}" height="6" fill="{TRUTH_COLOUR}">'
            f"<title>ground-truth segment {start:.2f}-{end:.2f} s</title></rect>"
        )
        parts += [
            f'<line x1="{v:.1f}" x2="{v:.1f}" y1="{top}" y2="{top + height}" stroke="{TRUTH_COLOUR}"/>'
            for v in (x0, x1)
        ]
    return parts


def timeline_legend(explanation: Explanation) -> str:
    """The legend under the timeline when it shows ground truth (without, the page's text explains it)."""
    if not explanation.truth_segments:
        return ""
    entries = [("#f0a000", "temporal weight"), ("#3a78c3", "attended segment"), (TRUTH_COLOUR, "ground-truth segment")]
    return (
        '<p class="meta">'
        + " &nbsp; ".join(f'<span style="color:{colour}">&#9632;</span> {name}' for colour, name in entries)
        + "</p>"
    )


def truth_paragraph(explanation: Explanation) -> str:
    """The report's statement of how the attention matches the ground truth; empty without ground truth."""
    line = truth_line(explanation)
    if line is None or explanation.truth is None:
        return ""
    source, rule = escape(explanation.truth.source), escape(explanation.truth.peak)
    return (
        f'<p class="truth">{escape(line[0].upper() + line[1:])}.</p>\n'
        f'<p class="meta">Ground truth from {source}: its box in magenta and black dashes, its segments in magenta '
        f'on the timelines. A frame counts when its attention peak (rule "{rule}", as in evaluation\'s pointing game) '
        "lies in its box; the weight is that of the frames whose time lies in a segment.</p>"
    )


def frame_table(e: Explanation) -> tuple[str, list[str]]:
    """The optional header cells and the rows of the per-frame table."""
    peak = max(float(e.weights.max()) if e.frames else 0.0, 1e-12)
    has_frame_labels = any(f.frame_label is not None for f in e.frames)
    head = "<th class='name'>frame's own top class</th>" if has_frame_labels else ""
    head += "<th>ground-truth box</th>" if e.truth is not None else ""
    rows = []
    for row, f in enumerate(e.frames):
        own = ""
        if has_frame_labels:
            own = f'<td class="name">{escape(f.frame_label or "")} {(f.frame_confidence or 0.0):.0%}</td>'
        if e.truth is not None:
            own += f"<td>{_fmt_box(f.truth_box)}</td>"
        rows.append(
            f"<tr><td>{row}</td><td>{f.index}</td><td>{f.time_s:.2f}</td><td>{f.weight:.4f}</td>"
            f'<td class="name"><span class="bar" style="width:{max(f.weight / peak * 120, 1):.0f}px"></span></td>'
            f"<td>{_fmt_box(f.box)}</td>{own}</tr>"
        )
    return head, rows


def top5_rows(explanation: Explanation) -> str:
    """The top-5 table's rows: class, probability and a bar."""
    return "\n".join(
        f'<tr><td class="name">{escape(c)}</td><td>{p:.1%}</td>'
        f'<td class="name"><span class="bar" style="width:{max(p * 300, 1):.0f}px"></span></td></tr>'
        for c, p in explanation.top5
    )


def segment_rows(explanation: Explanation) -> str:
    """The segment table's rows: number, start, end and score (one "none" row when there is no segment)."""
    return (
        "\n".join(
            f"<tr><td>{k + 1}</td><td>{s.start_s:.2f}</td><td>{s.end_s:.2f}</td><td>{s.score:.2f}</td></tr>"
            for k, s in enumerate(explanation.segments)
        )
        or '<tr><td colspan="4" class="name">none</td></tr>'
    )


def render_html(explanation: Explanation, files: dict[str, str]) -> str:
    """The report page; ``files`` names the video, sheet and json files relative to the page."""
    e = explanation
    v = e.video
    name = escape(Path(v.path).name)
    frame_head, frame_rows = frame_table(e)
    cx, cy, cw, ch = e.crop
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wherewhen: {name} is {escape(e.label)}</title>
<style>{CSS}</style>
</head>
<body>
<h1>{name}</h1>
<p class="meta">{v.width}x{v.height}, {v.fps:.2f} fps, {v.duration:.2f} s, {v.num_frames} frames;
model <b>{escape(e.model)}</b> looked at {len(e.frames)} sampled frames in {len(e.clips)} clip(s) through a
{e.grid}x{e.grid} attention grid over the crop x={cx:.0f}, y={cy:.0f}, {cw:.0f}x{ch:.0f} px.</p>
<p class="label">{escape(e.label)} ({e.confidence:.1%})</p>

<h2>Top 5</h2>
<table class="top5"><tr><th class="name">class</th><th>probability</th><th></th></tr>
{top5_rows(e)}
</table>

<h2>Where and when</h2>
<p class="meta">Each sampled frame with the attention heatmap (kept above its percentile), the crop the grid covers
(grey), the box around the cells with attention / max &ge; {e.box_threshold:g} (green), and the temporal-attention
timeline with a cursor.</p>
{truth_paragraph(e)}
<video src="{escape(files["video"])}" controls loop muted playsinline></video>

<h2>Timeline of temporal attention</h2>
{timeline_svg(e)}
{timeline_legend(e)}
<table><tr><th>segment</th><th>start (s)</th><th>end (s)</th><th>score</th></tr>
{segment_rows(e)}
</table>

<h2>Contact sheet</h2>
<img class="sheet" src="{escape(files["sheet"])}" alt="sampled frames with attention heatmaps and the timeline">

<h2>Frames</h2>
<p class="meta">Boxes are x1, y1, x2, y2 in original pixels. All maps, boxes and segments:
<a href="{escape(files["json"])}">{escape(files["json"])}</a>.</p>
<table><tr><th>row</th><th>frame</th><th>time (s)</th><th>weight</th><th></th><th>box</th>{frame_head}</tr>
{chr(10).join(frame_rows)}
</table>
</body>
</html>
"""


def write_html(explanation: Explanation, path: Path, files: dict[str, str]) -> Path:
    atomic_write_text(Path(path), render_html(explanation, files))
    return Path(path)
