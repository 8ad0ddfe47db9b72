"""Model head vs backbone time for one clip of 16 frames (target: every head <= 5 % of the backbone).

    python -m benchmarks.head_speed

Both are timed in the same run on the same machine: the backbone's forward over 16 uint8 frames (224 px) and each
registered model's forward over the resulting (1, 16, D, 7, 7) cube, in eval mode, best of several repeats.
"""

from __future__ import annotations

import time

import torch

from benchmarks.results import Results
from wherewhen.backbones import load_backbone
from wherewhen.models import available_models, build_model, model_class

COMMAND = "python -m benchmarks.head_speed"


def best_time(fn, repeats: int = 7) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


@torch.inference_mode()
def measure(results: Results, frames: int = 16, classes: int = 5) -> dict[str, float]:
    backbone = load_backbone()
    spec = backbone.spec
    clip = torch.randint(0, 255, (frames, spec.input_size, spec.input_size, 3), dtype=torch.uint8)
    backbone_s = best_time(lambda: backbone(clip), repeats=5)
    results.add("Speed", f"backbone, {frames} frames", backbone_s * 1000, "ms", command=COMMAND)
    cubes = backbone(clip)[None].float()
    ratios = {}
    for name in available_models():
        if not model_class(name).__module__.startswith("wherewhen.models."):
            continue
        model = build_model(name, num_classes=classes, in_channels=spec.channels, grid=spec.grid).eval()
        flow = cubes if model.uses_flow else None
        head_s = best_time(lambda model=model, flow=flow: model(cubes, flow))
        ratios[name] = head_s / backbone_s
        # motion_alstm's flow cubes come from a second backbone pass; that cost is the backbone's, not the head's.
        results.add("Speed", f"head {name} / backbone", 100 * ratios[name], "%", target="<= 5 %", command=COMMAND)
    return ratios


if __name__ == "__main__":
    measure(Results())
