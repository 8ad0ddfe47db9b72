"""Progress bars: frequent redraws on a terminal, a few states in a log file (the bar module and a real extraction)."""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

from wherewhen.progress import LOG_INTERVAL_S, counting_bar, progress_bar

REPO = Path(__file__).resolve().parents[1]


def bar_states(text: str) -> list[str]:
    """The states a bar drew: tqdm redraws a line by starting it with a carriage return."""
    return [s.strip() for s in text.replace("\n", "\r").split("\r") if s.strip()]


def count_slowly(bar, steps: int = 40, pause: float = 0.01) -> None:
    for _ in range(steps):
        time.sleep(pause)
        bar.update(1)
    bar.close()


def test_a_log_file_gets_the_first_and_the_final_state(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    with log.open("w") as stream:
        count_slowly(progress_bar(total=40, desc="work", unit="video", leave=False, file=stream))
    states = bar_states(log.read_text())
    assert len(states) <= 3, states
    assert states[0].startswith("work:") and "0/40" in states[0]
    assert "40/40" in states[-1]  # kept although leave=False: the log ends with the final count


def test_a_terminal_gets_frequent_redraws() -> None:
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    chunks: list[bytes] = []

    def read_all() -> None:
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:  # the terminal's other end closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read_all)
    reader.start()
    with os.fdopen(follower, "w") as terminal:
        count_slowly(progress_bar(total=40, desc="work", file=terminal), pause=0.02)
    reader.join(timeout=10)
    os.close(leader)
    states = bar_states(b"".join(chunks).decode())
    assert len(states) >= 5, states
    assert "40/40" in states[-1]


def test_disabled_and_terminal_only_bars_draw_nothing_in_a_log(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    with log.open("w") as stream:
        count_slowly(progress_bar(total=5, desc="off", show=False, file=stream), steps=5)
        count_slowly(progress_bar(total=5, desc="tty", terminal_only=True, file=stream), steps=5)
    assert log.read_text() == ""


def test_counting_bar_opens_at_the_first_report(capsys) -> None:
    with counting_bar("generate", unit="video") as report:
        assert capsys.readouterr().err == ""
        for done in range(4):
            report(done, 3)
    states = bar_states(capsys.readouterr().err)  # pytest's captured stderr is not a terminal
    assert len(states) <= 3 and "3/3" in states[-1]


def test_extraction_writes_a_few_bar_states_into_a_log(tmp_path: Path, ud810_dir: Path) -> None:
    clips = sorted(ud810_dir.glob("PS7A?P1T1.avi")) + sorted(ud810_dir.glob("PS7A?P2T1.avi"))
    log = tmp_path / "stderr.log"
    command = [sys.executable, "-m", "wherewhen", "extract", *map(str, clips), "-o", str(tmp_path / "store")]
    command += ["--frames", "4"]
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    start = time.monotonic()
    with log.open("w") as stderr:
        done = subprocess.run(command, env=env, stderr=stderr, stdout=subprocess.PIPE, text=True, timeout=300)
    seconds = time.monotonic() - start
    assert done.returncode == 0, log.read_text()
    assert done.stdout.startswith("6 written, 0 already done, 0 failed of 6 videos")
    states = [s for s in bar_states(log.read_text()) if s.startswith("extract efficientnet_lite0")]
    assert "6/6" in states[-1]
    # one state when the bar opens, one when it closes, and at most one per interval in between
    assert len(states) <= 2 + seconds / LOG_INTERVAL_S, states
