"""Evaluation on a store of real EfficientNet-Lite0 cubes of the 27 real ud810 clips (person P1 held out)."""

from __future__ import annotations

import torch

from wherewhen.evaluate.predict import ClipPlan
from wherewhen.evaluate.runner import EvaluationConfig, evaluate_model
from wherewhen.features.store import FeatureStore
from wherewhen.models import build_model


def test_untrained_model_on_real_cubes(ud810_features: FeatureStore) -> None:
    info = ud810_features.info
    test = [r for r in ud810_features.records() if r.split == "test"]
    torch.manual_seed(0)
    model = build_model("softmax_cube", num_classes=len(info.classes), in_channels=info.channels, grid=info.grid)
    result = evaluate_model(
        model, ud810_features, info.classes, EvaluationConfig(clips=ClipPlan(num_clips=1, frames=8), aggregate="mode")
    )
    cls = result.classification
    assert cls is not None and result.num_videos == len(test) == 9
    assert cls.confusion.sum() == 9 and cls.confusion.sum(axis=1).tolist() == [3, 3, 3]
    assert 0.0 <= cls.top1 <= 1.0 and cls.top5 == 1.0  # three classes: top-5 always holds
    # the folder layout has no boxes and no segments: localization says so instead of inventing numbers
    assert result.spatial is None and result.temporal is None
    assert "majority vote" in result.protocol[1]
