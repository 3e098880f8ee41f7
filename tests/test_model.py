from __future__ import annotations

import pytest
import torch

from planet_sentinel.model import ModelConfig, SiameseUNet, gflops_per_pair, parameter_count


@pytest.mark.parametrize("variant", ["diff", "conc"])
def test_shapes_any_band_count(variant: str) -> None:
    for bands in (3, 6, 13):
        model = SiameseUNet(ModelConfig(in_channels=bands, base=4, variant=variant)).eval()
        x = torch.randn(2, bands, 64, 64)
        assert model(x, x).shape == (2, 1, 64, 64)
        assert model.pooled_features(x, x).shape == (2, 2 * 4 * 8)


def test_diff_variant_is_symmetric_in_its_skips() -> None:
    """FC-Siam-diff sees |f(before) - f(after)|: swapping the dates changes nothing."""
    model = SiameseUNet(ModelConfig(in_channels=6, base=4)).eval()
    a, b = torch.randn(1, 6, 32, 32), torch.randn(1, 6, 32, 32)
    torch.testing.assert_close(model(a, b), model(b, a))
    conc = SiameseUNet(ModelConfig(in_channels=6, base=4, variant="conc")).eval()
    assert not torch.allclose(conc(a, b), conc(b, a))


def test_size_and_cost_figures() -> None:
    model = SiameseUNet(ModelConfig(in_channels=6, base=16))
    assert parameter_count(model) == sum(p.numel() for p in model.parameters())
    assert 0.5e6 < parameter_count(model) < 1.5e6
    assert 5 < gflops_per_pair(model) < 15
    assert model.training  # the FLOP count leaves the mode alone


def test_rejects_unknown_variant() -> None:
    with pytest.raises(ValueError, match="variant"):
        SiameseUNet(ModelConfig(variant="sum"))
