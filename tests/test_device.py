"""wherewhen.device: what a user writes for --device / train.device becomes a torch device or a one-line error."""

from __future__ import annotations

import pytest
import torch

from wherewhen.device import resolve_device
from wherewhen.errors import ConfigError


def test_auto_and_cpu() -> None:
    expected = torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    assert resolve_device("auto") == expected
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("choice", ["gpu0", "mps"])
def test_an_unusable_choice_names_the_setting(choice: str) -> None:
    with pytest.raises(ConfigError, match="--device="):
        resolve_device(choice, option="--device")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present here")
def test_cuda_without_cuda_says_so() -> None:
    with pytest.raises(ConfigError, match="CUDA is not available"):
        resolve_device("cuda")
