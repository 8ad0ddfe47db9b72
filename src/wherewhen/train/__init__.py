"""Training: configuration, clips of cached cubes, the loop, exact-resume checkpoints, DDP.

``wherewhen train --data FEATURES --model NAME`` calls :func:`train`; ``evaluate`` and ``explain`` read the run
directory it writes, and ``wherewhen.models.pretrained.from_pretrained`` loads its ``model/``.
"""

from wherewhen.train.config import RunConfig, load_config
from wherewhen.train.run import RunResult, read_run_json, resume_run, train

__all__ = ["RunConfig", "RunResult", "load_config", "read_run_json", "resume_run", "train"]
