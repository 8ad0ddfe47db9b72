"""A stopped benchmark stops its training processes too (benchmarks.attention_check.worker_pool)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = """
import time
from benchmarks.attention_check import worker_pool

if __name__ == "__main__":
    with worker_pool(2) as pool:
        pending = pool.map_async(time.sleep, [600, 600])
        print("running", flush=True)
        pending.get()
"""


def alive(pid: int) -> bool:
    """True while ``pid`` runs (an exited process nobody has reaped yet counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc to list child processes")
def test_sigterm_to_the_benchmark_ends_its_workers(tmp_path: Path) -> None:
    script = tmp_path / "bench.py"
    script.write_text(SCRIPT)
    env = os.environ | {"PYTHONPATH": str(ROOT)}  # the script lies elsewhere; benchmarks/ is a folder of the repo
    proc = subprocess.Popen([sys.executable, str(script)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "running"
        children_file = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        deadline = time.monotonic() + 60
        while len(children := [int(p) for p in children_file.read_text().split()]) < 2:
            assert time.monotonic() < deadline, "the pool's workers did not start"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM
        deadline = time.monotonic() + 30
        while any(alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in children if alive(pid)]
    finally:
        proc.kill()
        proc.wait()


def test_models_that_follow_the_store_train_on_rgb_in_the_accuracy_table() -> None:
    """The embedded benchmark's store has flow cubes for motion_alstm only: attention_pool (flow=None) is measured
    on RGB, motion_alstm (flow required) and stam (no flow keyword) as they are; a --set model.flow wins."""
    from benchmarks.attention_check import rgb_where_optional

    names = ["attention_pool", "motion_alstm", "stam"]
    assert rgb_where_optional(names, ()) == {"attention_pool": ("model.flow=false",)}
    assert rgb_where_optional(names, ("model.flow=true",)) == {}


def test_the_accuracy_table_teaches_stam_with_the_default_models_run_of_its_seed(embedded_features) -> None:
    """attention_pool's runs are stam's teachers (the run `wherewhen train --model stam` would train first), and stam
    trains once more without one, as the paper does."""
    import yaml
    from benchmarks.attention_check import bench_runs

    _, store = embedded_features
    work = store.root.parent / "bench-runs"
    runs = bench_runs(store.root, work, ["attention_pool", "stam"], (0, 1), ("train.epochs=1",), jobs=2)
    assert sorted(runs) == ["attention_pool", "stam", "stam_alone"] and all(len(r) == 2 for r in runs.values())

    def teacher(row: dict) -> str:
        return yaml.safe_load((Path(row["run_dir"]) / "config.yaml").read_text())["train"]["attention_teacher"]

    assert [teacher(r) for r in runs["stam"]] == [r["run_dir"] for r in runs["attention_pool"]]
    assert [teacher(r) for r in runs["stam_alone"]] == ["", ""]
    assert not any((Path(r["run_dir"]) / "teacher").exists() for r in runs["stam"])
