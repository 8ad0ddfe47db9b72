"""The ASGI application of ``wherewhen serve``: a page (plain HTML, CSS and JavaScript from the package) and a JSON
API (``docs/serve.md`` lists the routes).

Every name the client sends is an id looked up in the catalog (``serve.catalog``); files are served only from the
package's static folder and from the server's own cache by names that match a fixed pattern. Errors become JSON
``{"error": "one line"}`` with a 4xx status (a 500 for a bug), and the server keeps serving. Slow work runs as jobs
in a background thread (``serve.jobs``).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from wherewhen.errors import WherewhenError
from wherewhen.serve.catalog import Catalog, NotFound
from wherewhen.serve.config import ServeConfig
from wherewhen.serve.evaluation import EvaluationService
from wherewhen.serve.explaining import ExplainService, ExplainSettings
from wherewhen.serve.jobs import LOG, JobManager
from wherewhen.serve.selections import Selections
from wherewhen.serve.uploads import UploadError, display_name, receive_upload

STATIC = Path(__file__).resolve().parent / "static"
HEX = re.compile(r"[0-9a-f]{32}")
MAX_JSON_BYTES = 1 << 20
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]", "testserver")


class Services:
    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.catalog = Catalog(config)
        self.jobs = JobManager()
        self.explain = ExplainService(self.catalog, self.jobs, config.device)
        self.evaluation = EvaluationService(self.catalog, self.jobs, config.device)
        self.selections = Selections(self.catalog)


def services(request: Request) -> Services:
    return request.app.state.services


async def json_body(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_JSON_BYTES):
        raise UploadError("the request body is too large", 413)
    try:
        data = await request.json()
    except ValueError:
        raise WherewhenError("the request body must be JSON") from None
    if not isinstance(data, dict):
        raise WherewhenError("the request body must be a JSON object")
    return data


async def index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", media_type="text/html")


async def catalog(request: Request) -> Response:
    s = services(request)
    return JSONResponse(
        {
            "runs": [r.describe() for r in s.catalog.runs.values()],
            "stores": [st.describe() for st in s.catalog.stores.values()],
            "uploads": s.catalog.upload_list(),
            "limits": {"max_upload_bytes": s.config.max_upload_bytes},
        }
    )


async def video_info(request: Request) -> Response:
    """A video's cube rows (store videos: the frames a selection names) and its saved selection."""
    s = services(request)
    video = s.catalog.video(request.query_params.get("id"))
    info: dict[str, Any] = {**video.describe(), "video_id": video.video_id, "rows": video.rows, "fps": video.fps}
    store = s.catalog.stores.get(video.store or "")
    selectable = store is not None and store.kind == "store" and bool(video.rows)
    info["selectable"] = selectable
    info["chosen"] = s.selections.load(store).get(video.video_id or "") if selectable and store else None
    return JSONResponse(info)


async def upload(request: Request) -> Response:
    s = services(request)
    declared = request.headers.get("content-length")
    name = display_name(request.headers.get("x-filename"))
    described = await receive_upload(
        request.stream(),
        s.catalog.uploads,
        s.config.max_upload_bytes,
        int(declared) if declared and declared.isdigit() else None,
        name,
    )
    return JSONResponse(described, status_code=201)


async def explain(request: Request) -> Response:
    data = await json_body(request)
    job = services(request).explain.request(data.get("run"), data.get("video"), ExplainSettings.from_json(data))
    return JSONResponse(job.to_json())


async def evaluate(request: Request) -> Response:
    data = await json_body(request)
    return JSONResponse(services(request).evaluation.request(data.get("run"), data.get("split")).to_json())


async def job_state(request: Request) -> Response:
    job = services(request).jobs.get(request.path_params["job"])
    if job is None:
        raise NotFound("no such job (the server was restarted?); ask again")
    return JSONResponse(job.to_json())


async def job_cancel(request: Request) -> Response:
    job = services(request).jobs.cancel(request.path_params["job"])
    if job is None:
        raise NotFound("no such job")
    return JSONResponse(job.to_json())


async def selection(request: Request) -> Response:
    s = services(request)
    store = s.catalog.store(request.path_params["store"])
    if request.method == "GET":
        return JSONResponse(s.selections.describe(store))
    data = await json_body(request)
    return JSONResponse(s.selections.save(store.id, data.get("video"), data.get("rows")))


async def preview(request: Request) -> Response:
    name = request.path_params["name"]
    return cached_file(services(request).explain.previews, name, ".mp4", "video/mp4")


async def confusion(request: Request) -> Response:
    folder = services(request).evaluation.folder / checked(request.path_params["key"])
    return cached_file(folder, "confusion", ".png", "image/png")


def checked(name: str) -> str:
    if not HEX.fullmatch(name):
        raise NotFound("no such file")
    return name


def cached_file(folder: Path, name: str, suffix: str, media_type: str) -> Response:
    """A file of the server's cache, by a name of the fixed pattern only."""
    stem = name.removesuffix(suffix)
    if stem != "confusion":
        checked(stem)
    path = folder / f"{stem}{suffix}"
    if not path.is_file():
        raise NotFound("no such file")
    return FileResponse(path, media_type=media_type)


async def error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, NotFound):
        return JSONResponse({"error": str(exc)}, status_code=404)
    if isinstance(exc, UploadError):
        return JSONResponse({"error": str(exc)}, status_code=exc.status)
    if isinstance(exc, WherewhenError):
        return JSONResponse({"error": str(exc)}, status_code=400)
    LOG.exception("%s %s failed", request.method, request.url.path)
    return JSONResponse({"error": f"internal error ({type(exc).__name__}); the server goes on"}, status_code=500)


def create_app(config: ServeConfig, host: str = "127.0.0.1") -> Starlette:
    """The application; with a loopback ``host``, requests must name a loopback host (no DNS rebinding)."""
    svc = Services(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        svc.jobs.close()

    routes = [
        Route("/", index),
        Route("/api/catalog", catalog),
        Route("/api/video", video_info),
        Route("/api/upload", upload, methods=["POST"]),
        Route("/api/explain", explain, methods=["POST"]),
        Route("/api/evaluate", evaluate, methods=["POST"]),
        Route("/api/jobs/{job}", job_state),
        Route("/api/jobs/{job}/cancel", job_cancel, methods=["POST"]),
        Route("/api/selections/{store}", selection, methods=["GET", "POST"]),
        Route("/media/previews/{name}", preview),
        Route("/media/eval/{key}/confusion.png", confusion),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    hosts = list(LOOPBACK) if host in LOOPBACK else ["*"]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=hosts)]
    handlers: dict[Any, Any] = {Exception: error, WherewhenError: error}
    app = Starlette(routes=routes, middleware=middleware, exception_handlers=handlers, lifespan=lifespan)
    app.state.services = svc
    return app
