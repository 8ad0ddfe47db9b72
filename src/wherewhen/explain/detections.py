"""The attended segments of an explanation with a class and a score each, and as THUMOS'14-style detection rows.

A segment comes from the temporal attention (``evaluate.temporal.video_segments``: the timeline of every clip
merged, rows above threshold x its mean). Its class is the most probable one of the mean probabilities of the clips
that overlap it in time, and its confidence that probability: with one clip, the video's class and probability;
over a long video explained as sliding clips, what the model saw around that stretch. A row of ``segments.csv`` is
``video, start, end, class, score`` (seconds; score = the confidence), the form THUMOS'14 detections take.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from wherewhen.evaluate.predict import VideoPrediction
from wherewhen.evaluate.temporal import TemporalConfig, video_segments
from wherewhen.explain.explanation import AttendedSegment, Explanation

FIELDS = ("video", "start", "end", "class", "score")


def attended_segments(prediction: VideoPrediction, classes: Sequence[str], threshold: float) -> list[AttendedSegment]:
    """The segments of ``prediction`` (evaluation's ``TemporalConfig`` at ``threshold``), each with its class."""
    times = prediction.times
    spans = [(float(times[c.rows].min()), float(times[c.rows].max())) for c in prediction.clips]
    probabilities = prediction.clip_probabilities()
    out = []
    for start, end, score in video_segments(prediction, TemporalConfig(threshold=threshold)):
        overlapping = [k for k, (first, last) in enumerate(spans) if first <= end and last >= start]
        mean = probabilities[overlapping or list(range(len(spans)))].mean(axis=0)
        best = int(np.argmax(mean))
        out.append(AttendedSegment(start, end, score, classes[best], float(mean[best])))
    return out


def detection_rows(explanation: Explanation) -> list[tuple[str, float, float, str, float]]:
    """(video, start s, end s, class, score) of every attended segment, best score first."""
    name = Path(explanation.video.path).name
    rows = [
        (name, s.start_s, s.end_s, s.label or explanation.label, s.confidence or explanation.confidence)
        for s in explanation.segments
    ]
    return sorted(rows, key=lambda r: -r[4])


def detections_csv(explanation: Explanation) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(FIELDS)
    for video, start, end, label, score in detection_rows(explanation):
        writer.writerow([video, f"{start:.3f}", f"{end:.3f}", label, f"{score:.4f}"])
    return buffer.getvalue()
