"""A randomly initialised torchvision-layout VGG, for the porting tests (no download)."""

import torch

from stylejax.nn.vgg import BLOCKS, CHANNELS


def torchvision_like_vgg(arch: str, seed: int) -> torch.nn.Sequential:
    """The layer sequence of torchvision's `vgg16().features` / `vgg19().features`, randomly initialised."""
    torch.manual_seed(seed)
    layers, c_in = [], 3
    for block, count in enumerate(BLOCKS[arch]):
        for _ in range(count):
            layers += [torch.nn.Conv2d(c_in, CHANNELS[block], 3, padding=1), torch.nn.ReLU()]
            c_in = CHANNELS[block]
        layers.append(torch.nn.MaxPool2d(2, 2))
    return torch.nn.Sequential(*layers).eval()
