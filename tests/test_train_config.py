"""Training configuration: YAML on top of the defaults, --set on top of YAML, type checks, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from wherewhen.errors import ConfigError, WherewhenError
from wherewhen.train.config import RunConfig, load_config, read_yaml


def one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(exc.value)
    assert "\n" not in text and text, text
    return text


def test_yaml_then_set_overrides_and_types(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(
        "seed: 3\nmodel:\n  name: softmax_cube\n  dropout: 0.1\noptim:\n  name: sgd\n  lr: 0.05\ntrain:\n  epochs: 7\n",
        encoding="utf-8",
    )
    cfg = load_config(path, ["optim.lr=1e-3", "train.epochs=9", "model.dropout=0", "data.jitter=false"])
    assert cfg.seed == 3
    assert cfg.optim.name == "sgd"
    assert cfg.optim.lr == pytest.approx(1e-3) and isinstance(cfg.optim.lr, float)  # YAML reads "1e-3" as str
    assert cfg.train.epochs == 9
    assert cfg.model.args == {"dropout": 0.0} and isinstance(cfg.model.args["dropout"], float)
    assert cfg.data.jitter is False
    assert cfg.schedule.name == RunConfig().schedule.name  # untouched keys keep their defaults


def test_saved_yaml_reloads_to_the_same_config(tmp_path: Path) -> None:
    cfg = load_config(None, ["optim.betas=[0.8, 0.99]", "model.dropout=0.25", "data.store=/x/y"])
    path = tmp_path / "config.yaml"
    path.write_text(cfg.to_yaml(), encoding="utf-8")
    again = load_config(path)
    assert again == cfg
    assert read_yaml(path)["model"] == {"name": "attention_pool", "dropout": 0.25}


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("optim.lrr=0.1", "unknown config key 'optim.lrr'"),
        ("nonsense=1", "unknown config key 'nonsense'"),
        ("train.epochs=many", "train.epochs expects int"),
        ("train.epochs=2.5", "train.epochs expects int"),
        ("optim.lr=fast", "optim.lr expects float"),
        ("optim.name=adam", "optim.name must be one of adamw, sgd, rmsprop"),
        ("data.val_fraction=1.5", "data.val_fraction must be in [0, 1)"),
        ("data.val_split=test", "test split"),
        ("model.width=3", "model 'attention_pool' has no argument 'width'"),
        ("model.dropout=lots", "model.dropout expects float"),
        ("model.name=nope", "unknown model 'nope'"),
        ("optim=1", "'optim' is a section"),
        ("epochs", "expected key=value"),
    ],
)
def test_bad_overrides_are_one_line_config_errors(override: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(None, [override])
    assert fragment in one_line(exc)


def test_bad_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("optim:\n  lr: 0.1\n  name: [sgd\n", encoding="utf-8")
    with pytest.raises(WherewhenError) as exc:
        load_config(path)
    assert one_line(exc).startswith(f"{path}:")
    path.write_text("optim:\n  learning_rate: 0.1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(path) in one_line(exc) and "optim.learning_rate" in str(exc.value)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_model_recommendations_replace_defaults_but_never_user_settings(tmp_path: Path) -> None:
    from wherewhen.models import model_class

    recommended = model_class("stam").recommended_training
    assert recommended, "stam recommends its learning rate and grid augmentation (docs/models.md)"
    stam = load_config(None, ["model.name=stam"])
    assert stam.optim.lr == recommended["optim.lr"]
    assert (stam.augment.mirror, stam.augment.shift) == (recommended["augment.mirror"], recommended["augment.shift"])
    assert load_config(None, ["model.name=stam", "augment.shift=0"]).augment.shift == 0
    assert load_config(None, ["model.name=lstm_avg"]).optim.lr == RunConfig().optim.lr
    assert load_config(None, ["model.name=stam", "optim.lr=0.02"]).optim.lr == 0.02
    config_file = tmp_path / "run.yaml"
    config_file.write_text("model:\n  name: stam\noptim:\n  lr: 0.0005\n")
    assert load_config(config_file).optim.lr == 0.0005
    # the resolved value is saved with the run, so a resumed run trains with what the first one used
    saved = tmp_path / "saved.yaml"
    saved.write_text(load_config(None, ["model.name=stam"]).to_yaml())
    assert load_config(saved).optim.lr == recommended["optim.lr"]


def test_the_default_model_trains_with_its_recommended_mixing_and_length() -> None:
    config = load_config(None, [])
    assert config.model.name == "attention_pool"
    assert (config.augment.mix, config.train.epochs, config.train.patience) == (0.5, 80, 20)
    assert load_config(None, ["augment.mix=0", "train.epochs=3"]).augment.mix == 0.0
    other = load_config(None, ["model.name=lstm_avg"])
    assert (other.augment.mix, other.train.epochs) == (RunConfig().augment.mix, RunConfig().train.epochs) == (0.0, 40)
