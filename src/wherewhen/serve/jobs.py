"""Background jobs: one worker thread runs them in turn while the server keeps answering requests.

A job has a key (what it computes: a model, a video and the settings); asking again for a key that is queued,
running or done returns the same job, so a second view of an explanation costs nothing, and a result already on
disk makes a job that is done from the start. A job reports its progress (a fraction and a line); a cancelled job
stops at its next report (``Cancelled`` is raised there), or before it starts when it is still queued.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wherewhen.errors import WherewhenError

LOG = logging.getLogger("wherewhen.serve")
ACTIVE = ("queued", "running", "done")


class Cancelled(BaseException):
    """Raised inside a job's work at its next progress report once the job was cancelled. Not an Exception (as
    asyncio's CancelledError is not): the work's handlers that turn failures into one-line errors let it through."""


@dataclass
class Job:
    key: str
    title: str
    work: Callable[[Job], Any]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: str = "queued"  # queued, running, done, failed, cancelled
    progress: float = 0.0
    message: str = "waiting for the jobs before it"
    error: str | None = None
    result: Any = None
    cancel_requested: threading.Event = field(default_factory=threading.Event)

    def report(self, fraction: float, message: str | None = None) -> None:
        """Progress in [0, 1] and what is being done; raises ``Cancelled`` once the job was cancelled."""
        if self.cancel_requested.is_set():
            raise Cancelled
        self.progress = min(1.0, max(self.progress, fraction))
        if message is not None:
            self.message = message

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "state": self.state,
            "progress": round(self.progress, 4),
            "message": self.message,
            "error": self.error,
            "result": self.result if self.state == "done" else None,
        }


class JobManager:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._by_key: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._worker = threading.Thread(target=self._run, name="wherewhen-serve-jobs", daemon=True)
        self._worker.start()

    def submit(
        self, key: str, title: str, work: Callable[[Job], Any], done: Callable[[], Any | None] | None = None
    ) -> Job:
        """The job of ``key``: the one queued, running or done, else a new one; ``done()`` gives a result already
        made (the job is then done at once), or None."""
        with self._lock:
            known = self._by_key.get(key)
            if known is not None and known.state in ACTIVE:
                return known
            job = Job(key=key, title=title, work=work)
            self._jobs[job.id] = job
            self._by_key[key] = job
            finished = done() if done is not None else None
            if finished is not None:
                job.state, job.progress, job.message, job.result = "done", 1.0, "done (cached)", finished
                return job
        self._queue.put(job)
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def cancel(self, job_id: str) -> Job | None:
        job = self._jobs.get(job_id)
        if job is None:
            return None
        with self._lock:
            if job.state == "queued":
                job.state, job.message = "cancelled", "cancelled before it started"
            elif job.state == "running":
                job.cancel_requested.set()
                job.message = "cancelling..."
        return job

    def close(self) -> None:
        """Stop the worker after the running job (the rest are dropped); running work is asked to cancel."""
        for job in list(self._jobs.values()):
            if job.state in ("queued", "running"):
                self.cancel(job.id)
        self._queue.put(None)

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            with self._lock:
                if job.state != "queued":
                    continue
                job.state, job.message = "running", "starting"
            self._execute(job)

    def _execute(self, job: Job) -> None:
        try:
            result = job.work(job)
        except Cancelled:
            job.state, job.message = "cancelled", "cancelled"
        except WherewhenError as exc:
            job.state, job.error, job.message = "failed", str(exc), "failed"
        except Exception as exc:  # the server keeps serving; the page shows the one line
            LOG.exception("job %s failed", job.title)
            job.state, job.error, job.message = "failed", f"{type(exc).__name__}: {exc}", "failed"
        else:
            job.result, job.progress, job.message = result, 1.0, "done"
            job.state = "done"
