"""The attention teacher (train/teacher.py): its pseudo positives and loss against hand-computed cases, the checks on
its folder and student, and a real stam run taught by a real attention_pool run on the embedded benchmark's cubes."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch

from wherewhen.errors import ConfigError
from wherewhen.features.store import StoreInfo
from wherewhen.models import build_model
from wherewhen.models.output import ModelOutput
from wherewhen.models.pretrained import save_pretrained
from wherewhen.train import resume_run, train
from wherewhen.train.config import RunConfig, load_config
from wherewhen.train.teacher import (
    chosen_teacher,
    load_teacher,
    teacher_configs,
    teacher_folder,
    teacher_loss,
    teacher_positives,
)


def test_the_loss_is_the_class_balanced_cross_entropy_of_the_gates() -> None:
    """One clip, one frame, 2 x 2 cells, one positive (share 1/4): weights 2 on it and 2/3 on the others."""
    gates = torch.tensor([0.8, 0.4, 0.1, 0.5]).view(1, 1, 2, 2)
    positives = torch.tensor([1.0, 0.0, 0.0, 0.0]).view(1, 1, 2, 2)
    output = ModelOutput(logits=torch.zeros(1, 3), spatial=gates, temporal=torch.ones(1, 1))
    by_hand = (2 * -math.log(0.8) + 2 / 3 * (-math.log(0.6) - math.log(0.9) - math.log(0.5))) / 4
    assert math.isclose(float(teacher_loss(output, positives, 0.5)), 0.5 * by_hand, rel_tol=1e-5)


def test_the_positives_are_the_cells_at_085_of_the_clips_peak() -> None:
    """A linear-scorer attention_pool reading channel 0 (one softmax over the clip's cells): a cell's weight is
    proportional to exp(x_0), so the cells with x_0 >= x_peak + log 0.85 are the positives, per clip."""
    torch.manual_seed(0)
    teacher = build_model("attention_pool", num_classes=2, in_channels=3, grid=2, scorer="linear", dropout=0.0)
    with torch.no_grad():
        teacher.att_w.weight.copy_(torch.tensor([[1.0, 0.0, 0.0]]))
    teacher.eval()
    cubes = torch.zeros(2, 2, 3, 2, 2)
    cubes[0, 1, 0, 0, 1] = 2.0  # clip 0: one peak
    cubes[0, 0, 0, 1, 1] = 2.0 + math.log(0.9)  # and a cell at 0.9 of it
    cubes[0, 0, 0, 0, 0] = 2.0 + math.log(0.8)  # and one at 0.8
    cubes[1, 0, 0, 1, 0] = 1.0  # clip 1: its own peak, lower than clip 0's
    y = teacher_positives(teacher, cubes)
    assert y.shape == (2, 2, 2, 2)
    assert {tuple(i) for i in y.nonzero().tolist()} == {(0, 1, 0, 1), (0, 0, 1, 1), (1, 0, 1, 0)}


def saved_model(folder: Path, name: str, grid: int, **kwargs: object) -> Path:
    model = build_model(name, num_classes=2, in_channels=8, grid=grid, **kwargs)
    sampling = {"method": "uniform", "frames": 4}
    info = StoreInfo(backbone="efficientnet_lite0", input_size=224, grid=grid, channels=8, sampling=sampling)
    return save_pretrained(model, folder, classes=["a", "b"], features=info)


def test_a_missing_or_mismatched_teacher_is_a_one_line_error(tmp_path: Path) -> None:
    student = build_model("stam", num_classes=2, in_channels=8, grid=3, reduce_dim=4, hidden_channels=4)
    with pytest.raises(ConfigError, match="not a run or model folder"):
        load_teacher(tmp_path / "nowhere", student, False)
    with pytest.raises(ConfigError, match="on a 4 x 4 grid"):
        load_teacher(saved_model(tmp_path / "grid4", "attention_pool", 4), student, False)
    with pytest.raises(ConfigError, match="reads optical flow, the run's store has none"):
        load_teacher(saved_model(tmp_path / "flow", "attention_pool", 3, flow=True), student, False)
    assert load_teacher(saved_model(tmp_path / "flow", "attention_pool", 3, flow=True), student, True).uses_flow
    assert load_teacher(saved_model(tmp_path / "grid3", "attention_pool", 3), student, False).grid == 3


def test_only_a_mask_of_gates_is_taught() -> None:
    with pytest.raises(ConfigError, match="teaches a mask of gates"):
        load_config(values={"model.name": "attention_pool"}, overrides=["train.attention_teacher=run"])
    assert load_config(values={"model.name": "stam"}, overrides=["train.attention_teacher=run"]).train.teacher_weight


def test_a_real_stam_run_learns_from_a_real_teacher(embedded_features, tmp_path: Path) -> None:
    """attention_pool trained on the embedded benchmark's real cubes teaches stam: the term is logged every epoch,
    and stam's mask ends closer to the teacher's positives than the same run without it."""
    _, store = embedded_features

    def run(model: str, folder: Path, *overrides: str) -> Path:
        config = load_config(
            values={"data.store": str(store.root), "model.name": model},
            overrides=["train.epochs=4", "train.max_steps=0", "train.progress=false", "train.refine=false",
                       "data.val_fraction=0.5", *overrides],
        )  # fmt: skip
        train(config, folder, verbose=False)
        return folder

    teacher_run = run("attention_pool", tmp_path / "teacher")
    taught = run("stam", tmp_path / "taught", f"train.attention_teacher={teacher_run}", "train.teacher_weight=5")
    alone = run("stam", tmp_path / "alone", "train.attention_teacher=")
    with open(taught / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and all(math.isfinite(float(r["train_teacher"])) for r in rows)
    assert float(rows[-1]["train_teacher"]) < float(rows[0]["train_teacher"])

    from wherewhen.models.pretrained import from_pretrained

    teacher = from_pretrained(teacher_run / "model").model.eval()
    cubes = torch.stack([store.load(r.video_id)["rgb"] for r in store.records()])
    y = teacher_positives(teacher, cubes)

    def distance(folder: Path) -> float:
        with torch.no_grad():
            out = from_pretrained(folder / "model").model.eval()(cubes)
        return float(teacher_loss(out, y, 1.0))

    assert distance(taught) < distance(alone)


def test_a_named_teacher_trains_as_its_own_command_would_with_the_students_data_and_seed() -> None:
    """stam's default names attention_pool: its run is `wherewhen train --model attention_pool` with stam's data
    section and seed (attention_pool's own recommended training, none of stam's)."""
    student = load_config(values={"model.name": "stam", "data.store": "store", "seed": 3}, overrides=["data.frames=6"])
    assert student.train.attention_teacher == "attention_pool"
    ((folder, teacher),) = teacher_configs(student)  # no store with flow: one teacher
    assert folder == "teacher"
    alone = load_config(
        values={"model.name": "attention_pool", "data.store": "store", "seed": 3}, overrides=["data.frames=6"]
    )
    assert teacher.to_dict() == alone.to_dict()
    assert (teacher.optim.lr, teacher.train.refine, teacher.augment.mix) == (1e-3, True, 0.5)
    paper = load_config(values={"model.name": "stam"}, overrides=["train.attention_teacher="])
    assert not paper.train.attention_teacher


def test_stam_trains_its_teacher_first_and_a_resumed_run_reads_it(embedded_features, tmp_path: Path) -> None:
    """`wherewhen train --model stam` on real cubes: attention_pool trains in RUN/teacher (the same weights as that
    command alone), stam learns from it; resumed, the run reads the finished teacher instead of training it again;
    started again in the same folder, it is refused before anything trains."""
    from safetensors.torch import load_file

    _, store = embedded_features
    small = ["model.reduce_dim=32", "model.hidden_channels=16", "train.progress=false", "train.epochs=2"]
    config = load_config(values={"data.store": str(store.root), "model.name": "stam"}, overrides=small)
    run = train(config, tmp_path / "stam", verbose=False).run_dir
    weights = run / "teacher" / "model" / "model.safetensors"
    assert (run / "teacher" / "run.json").is_file() and weights.is_file()
    with open(run / "metrics.csv", newline="") as f:
        assert all(math.isfinite(float(r["train_teacher"])) for r in csv.DictReader(f))

    alone = load_config(values={"data.store": str(store.root), "model.name": "attention_pool"}, overrides=small[2:3])
    by_hand = train(alone, tmp_path / "attention_pool", verbose=False).model_dir / "model.safetensors"
    mine, theirs = load_file(weights), load_file(by_hand)
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)

    written = weights.stat().st_mtime_ns
    with pytest.raises(ConfigError, match="already holds a run"):
        train(config, run, verbose=False)
    assert resume_run(run, overrides=["train.epochs=3"], verbose=False).epochs_done == 3
    assert weights.stat().st_mtime_ns == written


def test_on_a_flow_store_the_named_teacher_trains_on_both_inputs_and_the_better_one_teaches(tmp_path: Path) -> None:
    """On a store extracted with flow, stam's teacher trains as `wherewhen train --model attention_pool` does there
    (RGB and flow, RUN/teacher) and on RGB alone (RUN/teacher-rgb); the one with the better validation teaches. A
    teacher folder that reads flow teaches an RGB student too: the batches carry flow for the teacher, stam reads
    RGB only."""
    from tests.test_explain_cli import train_small

    from wherewhen.models.pretrained import from_pretrained

    small = ["model.name=stam", "model.reduce_dim=16", "model.hidden_channels=8"]
    run = train_small(tmp_path, small, "dis", epochs=1)
    assert from_pretrained(run / "teacher" / "model").model.uses_flow
    assert not from_pretrained(run / "teacher-rgb" / "model").model.uses_flow
    assert not from_pretrained(run / "model").model.uses_flow
    config = load_config(run / "config.yaml")
    for better in ("teacher", "teacher-rgb"):  # the run's two teachers, each made the better on validation
        for name in ("teacher", "teacher-rgb"):
            with_accuracy(run / name / "metrics.csv", 1.0 if name == better else 0.0)
        assert teacher_folder(config, run) == run / better
    with open(run / "metrics.csv", newline="") as f:
        assert [math.isfinite(float(r["train_teacher"])) for r in csv.DictReader(f)] == [True]

    taught = load_config(run / "config.yaml", [f"train.attention_teacher={run / 'teacher'}"])
    again = train(taught, tmp_path / "folder", verbose=False).run_dir
    assert not from_pretrained(again / "model").model.uses_flow
    assert not (again / "teacher").exists()


def with_accuracy(metrics: Path, accuracy: float) -> None:
    """Rewrite every epoch's validation accuracy in a run's metrics.csv."""
    with open(metrics, newline="") as f:
        rows = list(csv.DictReader(f))
    with open(metrics, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows([row | {"val_accuracy": accuracy} for row in rows])


def test_the_teacher_with_the_better_validation_teaches_ties_go_to_the_first(tmp_path: Path) -> None:
    """chosen_teacher compares the runs' validation as the best epoch is chosen (accuracy, then the lower loss)."""
    config = load_config(values={"model.name": "attention_pool"})

    def run(name: str, *rows: tuple[float, float]) -> tuple[Path, RunConfig]:
        folder = tmp_path / name
        folder.mkdir()
        lines = ["epoch,val_accuracy,val_loss"] + [f"{e},{a},{loss}" for e, (a, loss) in enumerate(rows, 1)]
        (folder / "metrics.csv").write_text("\n".join(lines) + "\n")
        return folder, config

    flow, rgb = run("flow", (0.2, 1.5), (0.4, 1.4)), run("rgb", (0.9, 0.5), (0.7, 0.6))
    assert chosen_teacher([flow, rgb]) == rgb[0]
    same_accuracy = run("same", (0.4, 1.0))
    assert chosen_teacher([flow, same_accuracy]) == same_accuracy[0]  # the lower validation loss
    twin = run("twin", (0.4, 1.4))
    assert chosen_teacher([flow, twin]) == flow[0]
    assert chosen_teacher([flow, (tmp_path / "not-trained", config)]) == flow[0]
