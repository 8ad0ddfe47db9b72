"""`wherewhen serve [RUNS...]`: the local web page (docs/serve.md). The web stack is imported only when it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wherewhen.wording import count


def serve(
    runs: Annotated[
        list[Path] | None, typer.Argument(help="run folders of `wherewhen train`, or folders that hold them")
    ] = None,
    data: Annotated[
        list[Path] | None,
        typer.Option("--data", help="feature store or embedded benchmark folder whose videos to offer (repeatable)"),
    ] = None,
    host: Annotated[
        str, typer.Option("--host", help="address to listen on (default: this machine only)")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="port to listen on")] = 8000,
    workdir: Annotated[
        Path, typer.Option("--workdir", help="the server's folder: uploads, cached explanations, selections")
    ] = Path("wherewhen-serve"),
    max_upload_mb: Annotated[float, typer.Option("--max-upload-mb", help="larger uploads are refused")] = 512.0,
    device: Annotated[
        str, typer.Option("--device", help="where models and the backbone run: cpu, cuda, cuda:N")
    ] = "cpu",
) -> None:
    """Serve a page to watch where and when models look, compare two, browse a run's evaluation and mark frames
    for a frame selection."""
    import uvicorn

    from wherewhen.serve import ServeConfig, create_app
    from wherewhen.serve.app import LOOPBACK

    config = ServeConfig(
        runs=tuple(runs or ()),
        data=tuple(data or ()),
        workdir=workdir,
        max_upload_bytes=int(max_upload_mb * (1 << 20)),
        device=device,
    )
    application = create_app(config, host)
    catalog = application.state.services.catalog
    if host not in LOOPBACK:
        typer.echo(f"warning: listening on {host}: anyone who reaches it can upload videos and run jobs", err=True)
    shown = f"[{host}]" if ":" in host else host
    typer.echo(
        f"serving {count(len(catalog.runs), 'run')} and {count(len(catalog.stores), 'video folder')} on "
        f"http://{shown}:{port}/ (working folder {config.workdir}); Ctrl-C stops"
    )
    uvicorn.run(application, host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    app.command()(serve)
