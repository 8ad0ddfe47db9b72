"""Training: configuration, clips of cached cubes, the loop, exact-resume checkpoints, DDP, saved models.

``wherewhen train --data FEATURES --model NAME`` calls :func:`train`; ``evaluate`` and ``explain`` read the run
directory it writes, and :func:`load_pretrained` loads its ``model/``.
"""

from wherewhen.train.config import RunConfig, load_config
from wherewhen.train.pretrained import Pretrained, load_pretrained, save_pretrained
from wherewhen.train.run import RunResult, read_run_json, resume_run, train

__all__ = [
    "Pretrained",
    "RunConfig",
    "RunResult",
    "load_config",
    "load_pretrained",
    "read_run_json",
    "resume_run",
    "save_pretrained",
    "train",
]
