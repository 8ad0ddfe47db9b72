"""A one-line warning when the model saw much less of a video than its viewer does: only a small centred square of a
video far from square, or a tiny video enlarged several times to the backbone's input size."""

from __future__ import annotations

from pathlib import Path

from wherewhen.explain.explanation import Explanation

WIDEST_USUAL = 16 / 9  # the widest (or tallest) common video shape; beyond it the centred square loses much
MOST_ENLARGED = 2.0  # frames enlarged more than this much hold little detail for the backbone


def framing_warning(explanation: Explanation, input_size: int) -> str | None:
    """What to tell the user about the region the model saw (``explanation.crop``), or None when nothing."""
    width, height = explanation.video.width, explanation.video.height
    side = explanation.crop[2]
    if min(width, height) <= 0 or side <= 0:
        return None
    wide = max(width, height) > WIDEST_USUAL * min(width, height) * 1.01
    enlarged = input_size / side
    if not wide and enlarged <= MOST_ENLARGED:
        return None
    square = f"its centred {side:.0f}x{side:.0f} square"
    seen = f"only {square} ({side * side / (width * height):.0%} of the frame)" if wide else square
    if enlarged > MOST_ENLARGED:
        seen += f", enlarged {enlarged:.1f} times to the backbone's {input_size} pixels"
    name = Path(explanation.video.path).name
    return f"warning: {name} is {width}x{height}: the model saw {seen}; treat its explanation with care"
