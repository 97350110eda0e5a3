"""The stylejax objective written in PyTorch eager: same VGG16 weights, layers, loss terms and weights.

Used by the benchmarks as the tool a user would otherwise reach for. Needs `pip install torch`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from stylejax.config import StyleConfig, normalised
from stylejax.nn.vgg import layer_names

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


class TorchVGG(torch.nn.Module):
    """VGG16 features with average pooling, weights copied from a stylejax VGG."""

    def __init__(self, vgg):
        super().__init__()
        self.names = layer_names(vgg.arch)
        self.convs = torch.nn.ModuleList()
        for conv in vgg.convs:
            kernel = np.asarray(conv.kernel[...])
            layer = torch.nn.Conv2d(kernel.shape[2], kernel.shape[3], 3, padding=1)
            layer.weight.data = torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy())
            layer.bias.data = torch.from_numpy(np.asarray(conv.bias[...]).copy())
            self.convs.append(layer.requires_grad_(False))

    def forward(self, x: torch.Tensor, layers: set[str]) -> dict[str, torch.Tensor]:
        x = (x - MEAN) / STD
        out, last = {}, max(self.names.index(n) for n in layers)
        for i, (name, conv) in enumerate(zip(self.names, self.convs, strict=True)):
            if i and name.endswith("_1"):
                x = F.avg_pool2d(x, 2)
            x = F.relu(conv(x))
            if name in layers:
                out[name] = x
            if i == last:
                break
        return out


def gram(f: torch.Tensor) -> torch.Tensor:
    b, c, h, w = f.shape
    f = f.reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (h * w)


class TorchObjective:
    """Loss of an image (1, 3, h, w) in [0, 1], matching `stylejax.Objective` term for term."""

    def __init__(self, net: TorchVGG, content: np.ndarray, styles: list[np.ndarray], config: StyleConfig):
        self.net, self.config = net, config
        self.layers = set(config.content_layers) | set(config.style_layers)
        with torch.no_grad():
            self.content_targets = net(to_torch(content), set(config.content_layers))
            blend = normalised(config.style_blend, len(styles))
            style_feats = [net(to_torch(s), set(config.style_layers)) for s in styles]
            self.style_targets = {n: sum(b * gram(f[n]) for f, b in zip(style_feats, blend, strict=True))
                                  for n in config.style_layers}
        layer_weights = normalised(config.style_layer_weights, len(config.style_layers))
        self.style_weights = {n: config.style_weight * w
                              for n, w in zip(config.style_layers, layer_weights, strict=True)}
        self.content_weight = config.content_weight / len(config.content_layers)

    def terms(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.net(image, self.layers)
        content = sum(self.content_weight * torch.mean((feats[n] - t) ** 2) for n, t in self.content_targets.items())
        style = sum(self.style_weights[n] * torch.mean((gram(feats[n]) - t) ** 2)
                    for n, t in self.style_targets.items())
        tv = self.config.tv_weight * (torch.mean(torch.diff(image, dim=2) ** 2) +
                                      torch.mean(torch.diff(image, dim=3) ** 2))
        return {"content": content, "style": style, "tv": tv}

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return sum(self.terms(image).values())


def to_torch(image: np.ndarray) -> torch.Tensor:
    """(h, w, 3) -> (1, 3, h, w) float32."""
    return torch.from_numpy(np.ascontiguousarray(np.asarray(image, np.float32).transpose(2, 0, 1)[None]))


class TorchRun:
    """One optimisation with torch Adam or L-BFGS (strong-Wolfe line search), pixels clamped to [0, 1]."""

    def __init__(self, objective: TorchObjective, start: np.ndarray, optimizer: str, lr: float = 0.02):
        self.image = to_torch(start).requires_grad_(True)
        self.evaluations = 0
        if optimizer == "adam":
            self.opt = torch.optim.Adam([self.image], lr=lr)
        elif optimizer == "lbfgs":
            self.opt = torch.optim.LBFGS([self.image], lr=1, max_iter=1, history_size=10,
                                         line_search_fn="strong_wolfe")
        else:
            raise ValueError(f"no torch reference for {optimizer!r}")

        def closure():
            self.evaluations += 1
            self.opt.zero_grad()
            loss = objective(self.image)
            loss.backward()
            return loss

        self.closure = closure

    def step(self) -> float:
        """One step; returns the loss at its start."""
        loss = self.opt.step(self.closure).item()
        with torch.no_grad():
            self.image.clamp_(0, 1)
        return loss


def optimise(objective: TorchObjective, start: np.ndarray, optimizer: str, steps: int, lr: float = 0.02):
    """Runs `steps` steps. Returns (image tensor, per-step losses, loss evaluations)."""
    run = TorchRun(objective, start, optimizer, lr)
    losses = [run.step() for _ in range(steps)]
    return run.image, losses, run.evaluations


def resized_problem(problem, config: StyleConfig) -> tuple[np.ndarray, list[np.ndarray]]:
    """The content and style images exactly as stylejax resizes them for `problem`."""
    from stylejax.config import MIN_SIDE
    from stylejax.io import images
    from stylejax.io.images import working_shape

    shape = working_shape(problem.content.shape[:2], problem.size, "content image")
    style_size = max(MIN_SIDE, round(problem.size * config.style_scale))
    styles = [np.asarray(images.resize(s, working_shape(s.shape[:2], style_size, "style image")))
              for s in problem.styles]
    return np.asarray(images.resize(problem.content, shape)), styles


def traced_run(problem, budget, optimizer: str, config: StyleConfig, lr: float = 0.02):
    """A `stylejax.benchmark` runner for PyTorch's Adam or L-BFGS: (trace, compile seconds = 0, image)."""
    import time

    import stylejax

    content, styles = resized_problem(problem, config)
    objective = TorchObjective(TorchVGG(stylejax.load_vgg(config.model, pooling="avg")), content, styles, config)
    run = TorchRun(objective, content, optimizer, lr)

    def row(step, seconds):
        with torch.no_grad():
            terms = {k: float(v) for k, v in objective.terms(run.image).items()}
        return {"step": step, "seconds": seconds, "evaluations": run.evaluations,
                "loss": sum(terms.values())} | terms

    seconds, trace = 0.0, [row(0, 0.0)]
    while not budget.spent(len(trace) - 1, seconds, run.evaluations):
        start = time.perf_counter()
        run.step()
        seconds += time.perf_counter() - start
        trace.append(row(len(trace), seconds))
    return trace, 0.0, run.image.detach()[0].permute(1, 2, 0).numpy()


def runners(config: StyleConfig) -> dict:
    """{"torch-adam": ..., "torch-lbfgs": ...} for `stylejax.bench.optimizers.benchmark(references=...)`."""
    return {f"torch-{name}": (lambda problem, budget, name=name: traced_run(problem, budget, name, config))
            for name in ("adam", "lbfgs")}
