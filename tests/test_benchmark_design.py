"""The benchmark's design, checked on plans and rendered pixels: where and when are exact, knobs stay independent."""

from __future__ import annotations

import numpy as np
import pytest

from wherewhen.datasets.benchmark import BenchmarkConfig, plan_benchmark, plan_video, preset, render_frames
from wherewhen.datasets.benchmark.plan import CUE_COLOR, split_of
from wherewhen.errors import ConfigError

SMALL = BenchmarkConfig(classes=4, videos_per_class=3, frames=20, fps=5, width=112, height=96, distractors=3)


@pytest.fixture(scope="module")
def default_plans() -> list:
    return plan_benchmark(preset("default"))


def test_actor_shows_the_class_only_inside_its_segment(default_plans: list) -> None:
    config = preset("default")
    for plan in default_plans:
        sf, ef = plan.segment
        shows = plan.actor.shows
        assert (shows[sf:ef] == plan.label).all()
        outside = np.concatenate([shows[:sf], shows[ef:]])
        assert (outside != plan.label).all()
        assert len(set(outside.tolist())) <= 1  # one other class, like a distractor
        length = (ef - sf) / config.frames
        assert config.segment_min - 1 / config.frames <= length <= config.segment_max + 1 / config.frames


def test_distractors_show_every_class_including_the_true_one(default_plans: list) -> None:
    """No class is over-represented among distractors: the true class appears as often as chance predicts."""
    config = preset("default")
    shown = np.array([[(d.shows == p.label).mean() for d in p.distractors] for p in default_plans])
    assert abs(shown.mean() - 1 / config.classes) < 0.05
    counts = np.bincount(np.concatenate([d.shows for p in default_plans for d in p.distractors]), minlength=5)
    assert counts.min() > 0.5 * counts.mean()


def test_the_most_shown_class_is_rarely_the_true_one(default_plans: list) -> None:
    """Without attention the class mass points nowhere: its largest class is the label about as often as chance."""
    config = preset("default")
    hits = 0
    for plan in default_plans:
        mass = np.zeros(config.classes)
        for obj in (*plan.distractors, plan.actor):
            np.add.at(mass, obj.shows, obj.size[0] * obj.size[1])
        hits += int(mass.argmax() == plan.label)
    assert hits / len(default_plans) < 1 / config.classes + 0.1


def test_sixteen_uniform_frames_see_the_segment_several_times(default_plans: list) -> None:
    frames = preset("default").frames
    indices = ((np.arange(16) + 0.5) * frames / 16).astype(int)
    for plan in default_plans:
        assert sum(plan.in_segment(int(i)) for i in indices) >= 4


def test_boxes_lie_inside_the_frame(default_plans: list) -> None:
    config = preset("default")
    for plan in default_plans:
        for t in range(config.frames):
            x, y, w, h = plan.box(t)
            assert x >= 0 and y >= 0 and x + w <= config.width and y + h <= config.height
        assert plan.boxes().shape == (plan.segment[1] - plan.segment[0], 4)


def test_the_cue_is_exactly_the_ring_inside_the_box_and_only_in_the_segment() -> None:
    """Rendering with and without the cue changes only pixels of the box's border, only inside the segment."""
    for label in range(SMALL.classes):
        plan = plan_video(SMALL, label, 0)
        with_cue = list(render_frames(plan, noise=False))
        without = list(render_frames(plan, cue=False, noise=False))
        for t, (a, b) in enumerate(zip(with_cue, without, strict=True)):
            changed = (a != b).any(axis=2)
            if not plan.in_segment(t):
                assert not changed.any()
                continue
            x, y, w, h = plan.box(t)
            inside = np.zeros_like(changed)
            inside[y : y + h, x : x + w] = True
            assert changed.any() and not (changed & ~inside).any()
            assert (a[changed] == CUE_COLOR).all()
            r = plan.ring
            c = r + max(2, min(w, h) - 2 * r) // 6  # the object's corners are rounded; the ring fills them
            assert not changed[y + c : y + h - c, x + r : x + w - r].any()  # the photo inside the ring is untouched
            assert not changed[y + r : y + h - r, x + c : x + w - c].any()
            assert changed[y : y + r, x + w // 2].all()  # the ring runs along the box's top edge


def test_the_box_holds_the_rendered_object() -> None:
    """At every frame the box's border is the actor's frame colour (the cue inside the segment) around a photo crop."""
    empty = SMALL.with_overrides({"distractors": 0})
    for label in range(SMALL.classes):
        plan = plan_video(empty, label, 1)
        frames = list(render_frames(plan, noise=False))
        for t in range(SMALL.frames):
            x, y, w, h = plan.box(t)
            r = plan.ring
            content = frames[t][y + r : y + h - r, x + r : x + w - r].astype(int)
            ring_row = frames[t][y + r // 2, x + w // 4 : x + 3 * w // 4].astype(int)
            expected = np.array(CUE_COLOR if plan.in_segment(t) else plan.actor.color)
            assert np.abs(ring_row - expected).max() == 0
            assert content.std() > 5  # a photo crop, not a flat fill


def test_same_seed_same_plan_other_seed_other_plan() -> None:
    a, b = plan_video(SMALL, 2, 1), plan_video(SMALL, 2, 1)
    assert a.segment == b.segment and np.array_equal(a.boxes(), b.boxes())
    frames_a, frames_b = list(render_frames(a)), list(render_frames(b))
    assert all(np.array_equal(x, y) for x, y in zip(frames_a, frames_b, strict=True))
    other = plan_video(SMALL.with_overrides({"seed": 1}), 2, 1)
    assert other.segment != a.segment or not np.array_equal(other.boxes(), a.boxes())


def test_one_knob_does_not_reshuffle_the_rest() -> None:
    base = plan_video(SMALL, 1, 2)
    for knob, value in (("distractors", 6), ("noise", 9.0), ("switch_prob", 0.0), ("concentration", 5.0)):
        changed = plan_video(SMALL.with_overrides({knob: value}), 1, 2)
        assert changed.segment == base.segment, knob
        assert np.array_equal(changed.actor.xy, base.actor.xy) and np.array_equal(changed.actor.shows, base.actor.shows)
        assert changed.background.source == base.background.source
        assert np.array_equal(changed.background.crop_xy, base.background.crop_xy)
    more = plan_video(SMALL.with_overrides({"distractors": 6}), 1, 2)
    for old, new in zip(base.distractors, more.distractors[:3], strict=True):
        assert np.array_equal(old.xy, new.xy) and np.array_equal(old.shows, new.shows)


@pytest.mark.parametrize("videos", [2, 7, 10, 40])
def test_splits_are_stratified_and_seeded(videos: int) -> None:
    config = SMALL.with_overrides({"videos_per_class": videos})
    for label in range(config.classes):
        splits = split_of(config, label)
        n_train = splits.count("train")
        assert n_train == min(videos - 1, max(1, round(0.7 * videos))) and splits.count("test") == videos - n_train
        assert splits == split_of(config, label)
    other = [split_of(config.with_overrides({"seed": s}), 0) for s in range(1, 6)]
    assert videos == 2 or any(s != split_of(config, 0) for s in other)


def test_knobs_parse_and_bad_values_are_one_line_config_errors() -> None:
    config = preset("default").with_overrides({"frames": "64", "noise": "1.5", "seed": "3"})
    assert (config.frames, config.noise, config.seed) == (64, 1.5, 3)
    assert isinstance(config.frames, int) and isinstance(config.noise, float)
    for overrides, match in (
        ({"frame": "64"}, "unknown benchmark knob 'frame'"),
        ({"frames": "many"}, "expected int"),
        ({"frames": "2.5"}, "expected int"),
        ({"classes": "99"}, "classes must be in"),
        ({"width": "161"}, "even"),
        ({"segment_min": "0.6", "segment_max": "0.5"}, "segment_min <= segment_max"),
    ):
        with pytest.raises(ConfigError, match=match) as info:
            preset("default").with_overrides(overrides)
        assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="unknown benchmark preset"):
        preset("huge")
