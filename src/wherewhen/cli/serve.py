"""`wherewhen serve [RUNS...]`: the local web page (docs/serve.md). The web stack is imported only when it runs."""

from __future__ import annotations

from pathlib import Path

import typer

from wherewhen.wording import count


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        runs: list[Path] = typer.Argument(None, help="run folders of `wherewhen train`, or folders that hold them"),
        data: list[Path] = typer.Option(
            [], "--data", help="feature store or embedded benchmark folder whose videos to offer (repeatable)"
        ),
        host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (default: this machine only)"),
        port: int = typer.Option(8000, "--port", help="port to listen on"),
        workdir: Path = typer.Option(
            Path("wherewhen-serve"), "--workdir", help="the server's folder: uploads, cached explanations, selections"
        ),
        max_upload_mb: float = typer.Option(512.0, "--max-upload-mb", help="larger uploads are refused"),
        device: str = typer.Option("cpu", "--device", help="where models and the backbone run: cpu, cuda, cuda:N"),
    ) -> None:
        """Serve a page to watch where and when models look, compare two, browse a run's evaluation and mark frames
        for a frame selection."""
        import uvicorn

        from wherewhen.serve import ServeConfig, create_app
        from wherewhen.serve.app import LOOPBACK

        config = ServeConfig(
            runs=tuple(runs or ()),
            data=tuple(data),
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
