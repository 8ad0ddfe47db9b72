"""Explanations a person can watch: heatmaps over the frames, boxes, a timeline of temporal attention, a report.

>>> from wherewhen.explain import Explainer, write_explanation
>>> explanation = Explainer.from_pretrained("runs/alstm/model").explain("video.mp4")
>>> write_explanation(explanation, "explained/")   # explanation.mp4, contact_sheet.png, explanation.json, report.html
>>> explanation = with_truth(explanation, find_truth("video.mp4", "runs/alstm"))   # its ground truth, if any
"""

from wherewhen.explain.explainer import Explainer, VideoCubes
from wherewhen.explain.explanation import (
    AttendedSegment,
    Explanation,
    FrameExplanation,
    TruthSummary,
    VideoSummary,
    load_explanation,
)
from wherewhen.explain.heatmap import HeatmapStyle, overlay_heatmap
from wherewhen.explain.truth import GroundTruth, find_truth, with_truth
from wherewhen.explain.writer import FILES, RenderOptions, check_output_dir, explain_to_folder, write_explanation

__all__ = [
    "FILES",
    "AttendedSegment",
    "Explainer",
    "Explanation",
    "FrameExplanation",
    "GroundTruth",
    "HeatmapStyle",
    "RenderOptions",
    "TruthSummary",
    "VideoCubes",
    "VideoSummary",
    "check_output_dir",
    "explain_to_folder",
    "find_truth",
    "load_explanation",
    "overlay_heatmap",
    "with_truth",
    "write_explanation",
]
