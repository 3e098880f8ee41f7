"""One device resolver for every stage: auto, explicit devices, clear refusals."""

from __future__ import annotations

import pytest
import torch

from planet_sentinel.device import resolve_device
from planet_sentinel.errors import SentinelError


def test_auto_and_none_pick_cuda_when_available() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device(None).type == expected
    assert resolve_device("auto").type == expected  # prediction used to pass "auto" to torch and fail
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


def test_unknown_devices_are_a_clear_error() -> None:
    with pytest.raises(SentinelError, match=r"'gpu' is not one of auto, cpu, cuda or cuda:N"):
        resolve_device("gpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_refused() -> None:
    with pytest.raises(SentinelError, match="CUDA is not available here"):
        resolve_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_cuda_index_beyond_the_machine_is_refused() -> None:
    count = torch.cuda.device_count()
    assert resolve_device("cuda:0").type == "cuda"
    with pytest.raises(SentinelError, match=f"has {count} CUDA device"):
        resolve_device(f"cuda:{count}")
