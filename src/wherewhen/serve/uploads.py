"""Uploads: at most ``max_upload_bytes``, kept only if they decode as video, stored under generated names.

The body of ``POST /api/upload`` is the file itself (the page sends it as it is; no multipart form to parse). It
is streamed to ``uploads/.<name>.part`` and the count of bytes is checked as it comes, so a file over the limit is
refused before it is all on disk; then PyAV must find a video stream in it and decode its first frame (the file
name's extension plays no part). What passes becomes ``uploads/<name>.video`` with ``<name>.json`` beside it (the
name the client gave, for display only, and the probe); ``<name>`` is 32 random hex digits.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from starlette.concurrency import run_in_threadpool

from wherewhen.atomic import atomic_write_text
from wherewhen.errors import WherewhenError
from wherewhen.serve.catalog import UPLOAD_SUFFIX
from wherewhen.video.decode import read_frames
from wherewhen.video.probe import probe


class UploadError(WherewhenError):
    """An upload that is refused, with the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def display_name(raw: str | None) -> str:
    """The client's file name (percent-encoded, as the page sends it) reduced to something safe to show: no folders,
    printable, at most 80 characters."""
    name = re.split(r"[\\/]", unquote(raw or ""))[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:80] or "upload"


async def receive_upload(
    body: AsyncIterator[bytes], folder: Path, limit: int, declared: int | None, name: str
) -> dict[str, Any]:
    """Store one uploaded video from ``body`` in ``folder``; its description for the page (``id``, ``name``,
    ``info``). Raises ``UploadError`` (413 over ``limit``, 400 when it is no video)."""
    mb = limit / (1 << 20)
    if declared is not None and declared > limit:
        raise UploadError(f"{name} is {declared / (1 << 20):.1f} MB; uploads are limited to {mb:g} MB", 413)
    key = uuid.uuid4().hex
    part = folder / f".{key}.part"
    try:
        size = 0
        with open(part, "wb") as out:
            async for chunk in body:
                size += len(chunk)
                if size > limit:
                    raise UploadError(f"{name} is larger than the {mb:g} MB uploads are limited to", 413)
                out.write(chunk)
        if size == 0:
            raise UploadError(f"{name} is empty")
        info = await run_in_threadpool(check_video, part, name)
        final = folder / f"{key}{UPLOAD_SUFFIX}"
        meta = {"name": name, "bytes": size, **info}
        atomic_write_text(final.with_suffix(".json"), json.dumps(meta))
        os.replace(part, final)
    finally:
        part.unlink(missing_ok=True)
    return {"id": f"u:{key}", "name": name, "info": info}


def check_video(path: Path, name: str) -> dict[str, Any]:
    """The probe of a file that PyAV opens as a video and whose first frame decodes; else an ``UploadError``."""

    try:
        info = probe(path)
        read_frames(path, [0], info=info, shorter_side=64, threads=1)
    except WherewhenError as exc:
        reason = str(exc).split(": ", 1)[-1]
        raise UploadError(f"{name} is not a video this server can decode ({reason})") from None
    except Exception as exc:  # a decoder failure the video layer did not anticipate
        raise UploadError(f"{name} is not a video this server can decode ({type(exc).__name__})") from None
    return {
        "frames": info.num_frames,
        "fps": info.fps,
        "duration": info.duration,
        "width": info.width,
        "height": info.height,
    }
