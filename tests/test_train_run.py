"""End-to-end training on real FeatureStores written to disk: run directory, logs, best model, exact resume."""

from __future__ import annotations

import copy
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from test_train_support import make_store
from wherewhen.errors import CheckpointError, ConfigError, FeatureStoreError, WherewhenError
from wherewhen.features.store import FeatureStore
from wherewhen.models import build_model, register_model
from wherewhen.models.output import ModelOutput
from wherewhen.models.pretrained import from_pretrained
from wherewhen.models.softmax_cube import SoftmaxCube
from wherewhen.train.checkpoint import load_checkpoint
from wherewhen.train.config import RunConfig, ScheduleSection, load_config
from wherewhen.train.data import ClipDataset, collate
from wherewhen.train.engine import Schedule, build_schedule, current_lr, lr_factor
from wherewhen.train.run import RunResult, resume_run, train

REPO = Path(__file__).resolve().parents[1]


@register_model("test_regularized_cube")
class RegularizedCube(SoftmaxCube):
    """softmax_cube plus an L2 penalty on its weights, to check each loss term is logged on its own."""

    def forward(self, cubes: torch.Tensor, flow: torch.Tensor | None = None) -> ModelOutput:
        output = super().forward(cubes, flow)
        output.regularizers["weight_l2"] = 1e-3 * self.classifier.weight.square().sum()
        return output


@register_model("test_flow_cube")
class FlowCube(SoftmaxCube):
    """A model that needs flow cubes."""

    uses_flow = True


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> FeatureStore:
    return make_store(tmp_path_factory.mktemp("train") / "store", splits={"train": 30, "test": 6})


def config(store: FeatureStore, *overrides: str) -> RunConfig:
    base = [
        "model.name=softmax_cube",
        "train.epochs=4",
        "train.progress=false",
        "optim.lr=3e-2",
        "schedule.warmup_epochs=1",
    ]
    return load_config(None, [*base, *overrides], values={"data.store": str(store.root)})


def weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["model"]


def assert_same_run(a: Path, b: Path) -> None:
    """Bit-identical last and best weights, optimizer state and per-epoch metrics (except wall time)."""
    ca, cb = load_checkpoint(a / "checkpoints/last.pt"), load_checkpoint(b / "checkpoints/last.pt")
    assert ca["epoch"] == cb["epoch"]
    for key, value in ca["model"].items():
        assert torch.equal(value, cb["model"][key]), key
    for key, value in ca["optimizer"]["state"][0].items():
        assert torch.equal(torch.as_tensor(value), torch.as_tensor(cb["optimizer"]["state"][0][key])), key
    best_a, best_b = from_pretrained(a / "model").model.state_dict(), from_pretrained(b / "model").model.state_dict()
    assert all(torch.equal(best_a[k], best_b[k]) for k in best_a)

    def rows(run: Path) -> list[dict[str, str]]:
        with open(run / "metrics.csv", newline="") as f:
            return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]

    assert rows(a) == rows(b)


def test_training_writes_a_complete_run(store: FeatureStore, tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = train(config(store, "model.name=test_regularized_cube", "train.epochs=6"), run, verbose=False)
    assert isinstance(result, RunResult) and result.finished and result.epochs_done == 6
    names = ["checkpoints", "config.yaml", "logs", "metrics.csv", "model", "run.json"]
    assert sorted(p.name for p in run.iterdir()) == names
    info = json.loads((run / "run.json").read_text())
    train_ids, val_ids = set(info["splits"]["train"]), set(info["splits"]["val"])
    assert len(train_ids) + len(val_ids) == 30 and val_ids and not train_ids & val_ids
    assert info["splits"]["test"] == "test" and not any(v.startswith("test") for v in train_ids | val_ids)
    groups = {r.video_id: r.group for r in store.records()}
    assert not {groups[v] for v in train_ids} & {groups[v] for v in val_ids}  # people never straddle
    assert info["best_epoch"] == result.best_epoch and info["finished"]
    assert load_config(run / "config.yaml").model.name == "test_regularized_cube"

    # One row per epoch, every loss term on its own, accuracy and learning rate; the same in TensorBoard.
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2", "3", "4", "5", "6"]
    for term in ("train_loss", "train_ce", "train_weight_l2", "train_accuracy", "val_loss", "val_ce", "val_accuracy"):
        assert term in rows[0]
    first, last = rows[0], rows[-1]
    assert float(first["train_loss"]) == pytest.approx(float(first["train_ce"]) + float(first["train_weight_l2"]))
    assert float(last["train_loss"]) < float(first["train_loss"]) and float(last["val_accuracy"]) == 1.0
    assert float(rows[1]["lr"]) > float(last["lr"])  # cosine decay after the warm-up epoch
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "logs"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/ce", "train/weight_l2", "train/loss", "train/accuracy", "val/accuracy", "lr"} <= tags
    assert [e.step for e in events.Scalars("train/ce")] == [1, 2, 3, 4, 5, 6]

    # The saved model is the best epoch's: it reproduces that epoch's validation loss.
    best = from_pretrained(run / "model")
    assert best.config["extra"]["epoch"] == result.best_epoch and best.classes == store.info.classes
    val = [r for r in store.records() if r.video_id in val_ids]
    val.sort(key=lambda r: info["splits"]["val"].index(r.video_id))
    batch = collate([ClipDataset(store, val, best.classes, info["frames"], train=False)[i] for i in range(len(val))])
    with torch.no_grad():
        out = best.model(batch["rgb"].float())
        loss = sum(best.model.loss_terms(out, batch["label"]).values())
    assert float(loss) == pytest.approx(float(rows[result.best_epoch - 1]["val_loss"]), rel=1e-4)


def test_stop_and_resume_in_process_is_bit_identical(
    store: FeatureStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Dropout (softmax_cube's default 0.5), jittered frames, warm-up + cosine and AdamW state all have to be restored.
    straight = train(config(store, "train.epochs=5"), tmp_path / "straight", verbose=False)
    stopped = train(config(store, "train.epochs=5"), tmp_path / "split", stop_after_epoch=2)
    assert not stopped.finished and stopped.epochs_done == 2
    assert json.loads((tmp_path / "split/checkpoints/last.json").read_text()) == {"epoch": 2, "finished": False}
    assert json.loads((tmp_path / "split/run.json").read_text())["model_args"] == {"dropout": 0.5}  # given or not
    # A later release with another default still resumes the run (and loads its model) as it was built.
    monkeypatch.setattr(SoftmaxCube.__init__, "__defaults__", (0.0,))
    assert build_model("softmax_cube", num_classes=3, in_channels=8, grid=3).build_kwargs == {"dropout": 0.0}
    resumed = resume_run(tmp_path / "split", verbose=False)
    assert resumed.finished and resumed.epochs_done == 5 and resumed.best_epoch == straight.best_epoch
    assert [h["train/loss"] for h in resumed.history] == [h["train/loss"] for h in straight.history[2:]]
    assert_same_run(tmp_path / "straight", tmp_path / "split")
    # Resuming a finished run does nothing; raising train.epochs trains on from the checkpoint.
    assert resume_run(tmp_path / "split", verbose=False).history == []
    longer = resume_run(tmp_path / "split", overrides=["train.epochs=6"], verbose=False)
    assert longer.epochs_done == 6 and len(longer.history) == 1


@pytest.mark.parametrize(("optim", "schedule"), [("sgd", "step"), ("rmsprop", "plateau"), ("adamw", "constant")])
def test_each_optimizer_and_schedule_resumes(store: FeatureStore, tmp_path: Path, optim: str, schedule: str) -> None:
    sets = [f"optim.name={optim}", f"schedule.name={schedule}", "schedule.warmup_epochs=0", "schedule.step_epochs=1",
            "schedule.patience=0", "optim.lr=1e-2", "train.monitor=val_loss", "train.epochs=3"]  # fmt: skip
    train(config(store, *sets), tmp_path / "straight", verbose=False)
    train(config(store, *sets), tmp_path / "split", stop_after_epoch=1, verbose=False)
    resume_run(tmp_path / "split", verbose=False)
    assert_same_run(tmp_path / "straight", tmp_path / "split")
    with open(tmp_path / "split/metrics.csv", newline="") as f:
        lrs = [float(r["lr"]) for r in csv.DictReader(f)]
    if schedule == "step":
        assert lrs == pytest.approx([1e-2, 1e-3, 1e-4])
    elif schedule == "constant":
        assert lrs == pytest.approx([1e-2] * 3)


def test_worker_processes_do_not_change_the_run(store: FeatureStore, tmp_path: Path) -> None:
    """Clip and row choices come from (seed, epoch, video), not from whichever process loads the clip."""
    train(config(store, "train.epochs=2", "model.dropout=0.3"), tmp_path / "inline", verbose=False)
    train(
        config(store, "train.epochs=2", "model.dropout=0.3", "data.num_workers=2"), tmp_path / "workers", verbose=False
    )
    assert_same_run(tmp_path / "inline", tmp_path / "workers")


def test_killed_cli_run_resumes_bit_identical(store: FeatureStore, tmp_path: Path) -> None:
    """Kill `wherewhen train` with SIGKILL somewhere after its first checkpoint, resume, compare."""
    sets = ["train.epochs=12", "train.progress=false", "optim.lr=3e-2", "schedule.warmup_epochs=1"]
    run = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "wherewhen", "train", "--data", str(store.root), "--out", str(run), "-q"]
    for item in sets:
        cmd += ["--set", item]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    status = run / "checkpoints/last.json"
    deadline = time.monotonic() + 240
    while proc.poll() is None and time.monotonic() < deadline:
        if status.exists() and json.loads(status.read_text() or "{}").get("epoch", 0) >= 1:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
    killed_at = load_checkpoint(run / "checkpoints/last.pt")["epoch"]
    assert 1 <= killed_at < 12
    resumed = resume_run(run, verbose=False)
    assert resumed.finished
    straight = tmp_path / "straight"
    train(load_config(None, sets, values={"data.store": str(store.root)}), straight, verbose=False)
    assert_same_run(straight, run)


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(exc.value)
    assert text and "\n" not in text
    return text


def test_bad_inputs_fail_before_training(store: FeatureStore, tmp_path: Path) -> None:
    # Cubes on disk with another D than store.json promises (what the model is built for).
    broken = make_store(tmp_path / "broken", splits={"train": 12}, channels=16, channels_on_disk=12)
    with pytest.raises(FeatureStoreError) as exc:
        train(config(broken), tmp_path / "r1", verbose=False)
    assert "store.json promises (T, 16, 3, 3)" in _one_line(exc) and str(broken.features_dir) in str(exc.value)
    assert not (tmp_path / "r1").exists()
    # An empty training split.
    only_test = make_store(tmp_path / "only_test", splits={"test": 6})
    with pytest.raises(FeatureStoreError) as exc:
        train(config(only_test), tmp_path / "r2", verbose=False)
    assert "no videos in split 'train'" in _one_line(exc)
    # A model that needs flow on a store without it.
    with pytest.raises(ConfigError) as exc:
        train(config(store, "model.name=test_flow_cube"), tmp_path / "r3", verbose=False)
    assert "needs flow cubes" in _one_line(exc)
    with pytest.raises(ConfigError) as exc:  # asked for flow, which this store lacks
        train(config(store, "model.name=attention_pool", "model.flow=true"), tmp_path / "r4", verbose=False)
    assert "needs flow cubes" in _one_line(exc) and "extracted without --flow" in _one_line(exc)
    # A run directory that already holds a run.
    train(config(store, "train.epochs=1"), tmp_path / "run", verbose=False)
    with pytest.raises(ConfigError) as exc:
        train(config(store, "train.epochs=1"), tmp_path / "run", verbose=False)
    assert "--resume" in _one_line(exc)
    # Resuming with a store whose classes differ, or whose cubes have another D.
    renamed = make_store(tmp_path / "renamed", splits={"train": 30}, class_names=["a", "b", "c"])
    with pytest.raises(FeatureStoreError) as exc:
        resume_run(tmp_path / "run", data=renamed.root, overrides=["train.epochs=2"], verbose=False)
    assert "classes (a, b, c) differ" in _one_line(exc) and str(renamed.info_path) in str(exc.value)
    wider = make_store(tmp_path / "wider", splits={"train": 30}, channels=32)
    with pytest.raises(FeatureStoreError) as exc:
        resume_run(tmp_path / "run", data=wider.root, overrides=["train.epochs=2"], verbose=False)
    assert "differ from the run's in channels" in _one_line(exc)
    # A truncated checkpoint.
    last = tmp_path / "run/checkpoints/last.pt"
    last.write_bytes(last.read_bytes()[:1000])
    with pytest.raises(CheckpointError) as exc:
        resume_run(tmp_path / "run", overrides=["train.epochs=2"], verbose=False)
    assert _one_line(exc).startswith(str(last))


def test_cli_train_and_errors(store: FeatureStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from wherewhen.cli import main

    run = tmp_path / "cli_run"
    main(["train", "--data", str(store.root), "--model", "softmax_cube", "--out", str(run), "-q",
          "--set", "train.epochs=2", "--set", "data.val_fraction=0"])  # fmt: skip
    assert capsys.readouterr().out.strip() == str(run)
    info = json.loads((run / "run.json").read_text())
    assert info["monitor"] == "last" and info["best_epoch"] == 2 and info["splits"]["val"] == []
    main(["train", "--resume", str(run), "--set", "train.epochs=3", "-q"])
    assert load_checkpoint(run / "checkpoints/last.pt")["epoch"] == 3
    for argv, fragment in [
        (["train", "--data", str(store.root), "--set", "optim.lrr=1"], "unknown config key 'optim.lrr'"),
        (["train", "--data", str(tmp_path / "nowhere")], "not a feature store"),
        (["train", "--model", "softmax_cube"], "--data FEATURES is required"),
        (["train", "--resume", str(tmp_path / "nowhere")], "not a run directory"),
    ]:
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and fragment in err and "\n" not in err, err


def test_errors_are_wherewhen_errors() -> None:
    assert issubclass(ConfigError, WherewhenError) and issubclass(CheckpointError, WherewhenError)


def test_resuming_with_more_epochs_follows_the_longer_cosine() -> None:
    """The optimizer's saved rate is where the old curve ended (0 for a cosine); a longer run resumes on its own
    curve, and an unchanged one resumes at exactly the saved rate."""
    steps_per_epoch, cfg = 4, ScheduleSection(name="cosine", warmup_epochs=1.0)

    def session(epochs: int) -> tuple[torch.optim.Optimizer, Schedule]:
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
        return optimizer, build_schedule(optimizer, cfg, steps_per_epoch=steps_per_epoch, epochs=epochs, maximize=True)

    optimizer, schedule = session(epochs=5)
    for _ in range(5 * steps_per_epoch):
        optimizer.step()
        schedule.scheduler.step()
    assert current_lr(optimizer) == 0.0
    saved = (copy.deepcopy(optimizer.state_dict()), copy.deepcopy(schedule.state_dict()))
    for epochs in (5, 6):
        resumed, resumed_schedule = session(epochs)
        resumed.load_state_dict(saved[0])
        resumed_schedule.load_state_dict(saved[1])
        want = 0.1 * lr_factor(
            5 * steps_per_epoch, cfg=cfg, steps_per_epoch=steps_per_epoch, epochs=epochs, base_lr=0.1
        )
        assert current_lr(resumed) == want and resumed_schedule.scheduler.get_last_lr() == [want]
    assert want > 0.009  # epoch 6 starts 80 % of the way down a cosine over epochs 2-6: 0.1 (1 + cos 0.8 pi) / 2


def test_max_steps_caps_the_epochs_and_the_schedule(store: FeatureStore, tmp_path: Path) -> None:
    """24 training clips in batches of 8 are 3 steps an epoch: max_steps=7 keeps ceil(7 / 3) = 3 of 10 epochs, and the
    cosine reaches its end in the last of them; a cap above the run changes nothing."""
    capped = train(config(store, "train.epochs=10", "train.max_steps=7", "data.batch_size=8"), tmp_path / "a")
    assert capped.finished and capped.epochs_done == 3
    assert json.loads((tmp_path / "a" / "run.json").read_text())["epochs"] == 3
    assert load_config(tmp_path / "a" / "config.yaml").train.epochs == 3  # a resume keeps the capped length
    optimizer = load_checkpoint(tmp_path / "a" / "checkpoints/last.pt")["optimizer"]
    assert optimizer["param_groups"][0]["lr"] == pytest.approx(0.0, abs=1e-9)  # the cosine ended with the run
    loose = train(config(store, "train.epochs=2", "train.max_steps=100", "data.batch_size=8"), tmp_path / "b")
    assert loose.epochs_done == 2
    with pytest.raises(ConfigError, match=r"train\.max_steps"):
        config(store, "train.max_steps=-1")
