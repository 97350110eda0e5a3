"""The style network and its training step in PyTorch eager: the same architecture, VGG, loss and Adam.

What a user would otherwise write (the PyTorch fast-neural-style example with the fixes stylejax has:
reflection padding, instance norm without the convolutions' cancelled biases, nearest upsample + conv).
Used by `benchmarks/network.py torch` to time a step side by side with stylejax's compiled one.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch_reference import TorchObjective, TorchVGG, gram

from stylejax.config import StyleConfig


class ConvNorm(torch.nn.Module):
    def __init__(self, c_in, c_out, kernel, stride=1, *, upsample=False, relu=True, norm=True):
        super().__init__()
        self.pad = kernel // 2
        self.conv = torch.nn.Conv2d(c_in, c_out, kernel, stride, bias=not norm)
        self.norm = torch.nn.InstanceNorm2d(c_out, affine=True) if norm else None
        self.upsample, self.relu = upsample, relu

    def forward(self, x):
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.conv(F.pad(x, (self.pad,) * 4, mode="reflect"))
        if self.norm is not None:
            x = self.norm(x)
        return F.relu(x) if self.relu else x


class Residual(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.first, self.second = ConvNorm(c, c, 3), ConvNorm(c, c, 3, relu=False)

    def forward(self, x):
        return x + self.second(self.first(x))


class TorchStyleNetwork(torch.nn.Module):
    """c9s1-W, d2W, d4W, R4W x 5, u2W, uW, c9s1-3, sigmoid: stylejax's `StyleNetwork` with one style."""

    def __init__(self, width: int = 32):
        super().__init__()
        w = width
        self.layers = torch.nn.Sequential(
            ConvNorm(3, w, 9), ConvNorm(w, 2 * w, 3, 2), ConvNorm(2 * w, 4 * w, 3, 2),
            *[Residual(4 * w) for _ in range(5)],
            ConvNorm(4 * w, 2 * w, 3, upsample=True), ConvNorm(2 * w, w, 3, upsample=True),
            ConvNorm(w, 3, 9, relu=False, norm=False))

    def forward(self, x):
        return torch.sigmoid(self.layers(x))


class TorchTrainer:
    """One training step: outputs of a batch, VGG on outputs and (without gradient) inputs, loss, Adam."""

    def __init__(self, vgg, style: np.ndarray, config: StyleConfig, width: int, lr: float = 1e-3):
        self.net = TorchStyleNetwork(width)
        self.vgg = TorchVGG(vgg)
        # The style targets, weights and TV term exactly as the single-image reference computes them.
        self.reference = TorchObjective(self.vgg, style, [style], config)
        self.config = config
        self.opt = torch.optim.Adam(self.net.parameters(), lr=lr)

    def step(self, batch: np.ndarray) -> float:
        """batch (b, h, w, 3) in [0, 1]; returns the loss before the update."""
        x = as_nchw(batch)
        loss = self.loss(x, self.net(x))
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return float(loss.detach())

    def loss(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """The step's loss of outputs `out` for inputs `x` (both (b, 3, h, w)): content targets from x (no
        gradient), Gram style terms, total variation."""
        ref = self.reference
        with torch.no_grad():
            content = self.vgg(x, set(self.config.content_layers))
        feats = self.vgg(out, ref.layers)
        loss = sum(ref.content_weight * torch.mean((feats[n] - t) ** 2) for n, t in content.items())
        loss = loss + sum(ref.style_weights[n] * torch.mean((gram(feats[n]) - t) ** 2)
                          for n, t in ref.style_targets.items())
        return loss + self.config.tv_weight * (torch.mean(torch.diff(out, dim=2) ** 2) +
                                               torch.mean(torch.diff(out, dim=3) ** 2))


def as_nchw(images: np.ndarray) -> torch.Tensor:
    """(b, h, w, c) numpy images as a contiguous (b, c, h, w) tensor."""
    return torch.from_numpy(np.ascontiguousarray(np.asarray(images).transpose(0, 3, 1, 2)))

