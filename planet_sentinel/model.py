"""The Siamese U-Net for bi-temporal change detection.

FC-Siam-diff (Daudt, Le Saux, Boulch, IGARSS 2018): one encoder with shared weights sees each
date; the decoder's skip connections receive the absolute difference of the two dates' features
at each scale, so the network learns what changed rather than what is there. ``variant="conc"``
is FC-Siam-conc (both dates' features concatenated). Any band count works.

Size with 6 bands and ``depth=4`` (the trainer logs the exact count of every run):
``base=16`` (the default) 796,369 parameters and 9.1 GFLOPs per 256x256 pair; ``base=8`` (the
demo's CPU setting) 199,849 parameters and 2.3 GFLOPs. FLOPs are counted by torch's
FlopCounterMode (2 per multiply-add).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    """Architecture settings, stored with every checkpoint so it can be rebuilt exactly."""

    in_channels: int = 6
    base: int = 16
    depth: int = 4
    variant: str = "diff"
    dropout: float = 0.2

    def to_dict(self) -> dict[str, int | float | str]:
        return asdict(self)


def _block(cin: int, cout: int, convs: int, dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(convs):
        layers += [
            nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        ]
    if dropout:
        layers.append(nn.Dropout2d(dropout))
    return nn.Sequential(*layers)


class SiameseUNet(nn.Module):
    """FC-Siam-diff / FC-Siam-conc. ``forward(before, after)`` returns change logits (N, 1, H, W).

    Inputs are normalised float tensors (N, bands, H, W); H and W must be divisible by
    ``2 ** (depth - 1)``.
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        c = self.config
        if c.variant not in ("diff", "conc"):
            raise ValueError(f"variant must be 'diff' or 'conc', got {c.variant!r}")
        widths = [c.base * 2**i for i in range(c.depth)]
        self.widths = widths
        self.encoders = nn.ModuleList(
            _block(c.in_channels if i == 0 else widths[i - 1], w, 2 if i < 2 else 3, c.dropout if i else 0.0)
            for i, w in enumerate(widths)
        )
        self.pool = nn.MaxPool2d(2)
        skip_factor = 1 if c.variant == "diff" else 2
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for i in reversed(range(c.depth - 1)):
            self.ups.append(nn.ConvTranspose2d(widths[i + 1], widths[i + 1], 2, stride=2))
            self.decoders.append(
                _block(widths[i + 1] + skip_factor * widths[i], widths[i], 2 if i < 2 else 3, c.dropout if i else 0.0)
            )
        self.head = nn.Conv2d(widths[0], 1, 1)

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Features at every scale (full resolution first)."""
        features = []
        for i, encoder in enumerate(self.encoders):
            x = encoder(x if i == 0 else self.pool(x))
            features.append(x)
        return features

    def _merge(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.abs(a - b) if self.config.variant == "diff" else torch.cat([a, b], dim=1)

    def forward(self, before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
        fb, fa = self.encode(before), self.encode(after)
        # The bottleneck: the change at the coarsest scale (diff), or the after date's features
        # as in Daudt et al.'s FC-Siam-conc.
        x = torch.abs(fa[-1] - fb[-1]) if self.config.variant == "diff" else fa[-1]
        for level, (up, decoder) in enumerate(zip(self.ups, self.decoders, strict=True)):
            skip = len(fb) - 2 - level
            x = up(x)
            x = decoder(torch.cat([x, self._merge(fb[skip], fa[skip])], dim=1))
        logits: torch.Tensor = self.head(x)
        return logits

    @torch.no_grad()
    def pooled_features(self, before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
        """Global-average-pooled deepest encoder features of both dates, (N, 2 * widest).

        The drift monitor compares these between training and new data: shifts the model's own
        features see, even when band histograms look alike.
        """
        fb, fa = self.encode(before)[-1], self.encode(after)[-1]
        return torch.cat([fb.mean(dim=(2, 3)), fa.mean(dim=(2, 3))], dim=1)

    @property
    def multiple(self) -> int:
        """Input sides must be divisible by this."""
        return 1 << (self.config.depth - 1)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def gflops_per_pair(model: SiameseUNet, size: int = 256) -> float:
    """Forward GFLOPs (2 x multiply-adds) for one before/after pair of ``size`` x ``size``,
    counted with torch's FLOP counter."""
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.zeros(1, model.config.in_channels, size, size)
    was_training = model.training
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x, x)
    model.train(was_training)
    return float(counter.get_total_flops()) / 1e9
