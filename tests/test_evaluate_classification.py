"""Top-k accuracy, mean class accuracy, confusion matrix and per-class rows on a tiny hand-made case."""

from __future__ import annotations

import numpy as np
import pytest

from wherewhen.evaluate.classification import classify, confusion_matrix, mean_class_accuracy, topk_accuracy

CLASSES = ["run", "jump", "wave"]
# Five videos: three "run", one "jump", one "wave".
TARGETS = np.array([0, 0, 0, 1, 2])
PROBS = np.array(
    [
        [0.7, 0.2, 0.1],  # run -> run
        [0.5, 0.4, 0.1],  # run -> run
        [0.3, 0.6, 0.1],  # run -> jump (run is 2nd)
        [0.2, 0.7, 0.1],  # jump -> jump
        [0.5, 0.3, 0.2],  # wave -> run (wave is 3rd)
    ]
)


def test_topk_accuracy() -> None:
    assert topk_accuracy(PROBS, TARGETS, 1) == pytest.approx(3 / 5)
    assert topk_accuracy(PROBS, TARGETS, 2) == pytest.approx(4 / 5)
    assert topk_accuracy(PROBS, TARGETS, 3) == pytest.approx(1.0)


def test_ties_rank_the_lower_class_index_first() -> None:
    assert topk_accuracy(np.array([[0.5, 0.5, 0.0]]), np.array([1]), 1) == 0.0
    assert topk_accuracy(np.array([[0.5, 0.5, 0.0]]), np.array([0]), 1) == 1.0


def test_confusion_and_mean_class_accuracy() -> None:
    confusion = confusion_matrix(TARGETS, PROBS.argmax(1), 3)
    assert confusion.tolist() == [[2, 1, 0], [0, 1, 0], [1, 0, 0]]
    # per class: run 2/3, jump 1/1, wave 0/1 -> mean (2/3 + 1 + 0) / 3 = 5/9 (top-1 over videos is 3/5)
    assert mean_class_accuracy(confusion) == pytest.approx(5 / 9)


def test_classes_without_videos_do_not_count() -> None:
    confusion = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 0]])
    assert mean_class_accuracy(confusion) == pytest.approx((1 / 2 + 1) / 2)


def test_classify_per_class_rows() -> None:
    result = classify(PROBS, TARGETS, CLASSES)
    assert (result.top1, result.top5) == (pytest.approx(0.6), pytest.approx(1.0))  # top-5 capped at 3 classes
    run, jump, wave = result.per_class
    assert run == {
        "class": "run",
        "videos": 3,
        "correct": 2,
        "top1": pytest.approx(2 / 3),
        "top5": 1.0,
        "most_confused_with": "jump",
        "confused_count": 1,
    }
    assert jump["most_confused_with"] is None and jump["top1"] == 1.0
    assert wave["top1"] == 0.0 and wave["most_confused_with"] == "run"
