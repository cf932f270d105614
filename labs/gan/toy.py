"""The generated data sets of the thesis's ch. 4 experiments: 1-D distributions and sine-wave images.

Reading of the thesis: it writes N(mu, sigma) with sigma the *standard deviation*; its code
draws ``np.random.normal(mean_train=2.5, stddev_train=3.25)`` and the mixture's components with
``stddev1 = 3.25``, ``stddev2 = 1.75``. So N(2.5, 3.25) has std 3.25 (variance 10.5625), and the
mixture is an equal-weight mix of N(5.5, std 3.25) and N(-3.2, std 1.75).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import ndtr


@dataclass(frozen=True)
class GaussianMixture1D:
    """A 1-D mixture of normals; ``stds`` are standard deviations (not variances)."""

    weights: tuple[float, ...]
    means: tuple[float, ...]
    stds: tuple[float, ...]

    @property
    def mean(self) -> float:
        return float(sum(w * m for w, m in zip(self.weights, self.means)))

    @property
    def std(self) -> float:
        second_moment = sum(w * (s**2 + m**2) for w, m, s in zip(self.weights, self.means, self.stds))
        return math.sqrt(second_moment - self.mean**2)

    def sample(self, count: int) -> torch.Tensor:
        """``count`` draws as a float (count, 1) tensor, from torch's global generator (so seeding a step fixes it)."""
        component = torch.multinomial(torch.tensor(self.weights), count, replacement=True)
        means, stds = torch.tensor(self.means)[component], torch.tensor(self.stds)[component]
        return (means + stds * torch.randn(count)).unsqueeze(1)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """The density at the points ``x``."""
        x = np.asarray(x, dtype=np.float64)
        return sum(  # type: ignore[return-value]  # a sum of arrays is an array
            w * np.exp(-0.5 * ((x - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))
            for w, m, s in zip(self.weights, self.means, self.stds)
        )

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """The cumulative distribution at the points ``x`` (bin probabilities for histogram distances)."""
        x = np.asarray(x, dtype=np.float64)
        return sum(w * ndtr((x - m) / s) for w, m, s in zip(self.weights, self.means, self.stds))

    def plot_range(self) -> tuple[float, float]:
        """An x-range holding all but a negligible tail of the mass, for plots and histograms."""
        pairs = list(zip(self.means, self.stds))
        return min(m - 4 * s for m, s in pairs), max(m + 4 * s for m, s in pairs)


TARGETS: dict[str, GaussianMixture1D] = {
    "normal": GaussianMixture1D(weights=(1.0,), means=(2.5,), stds=(3.25,)),
    "mixture": GaussianMixture1D(weights=(0.5, 0.5), means=(5.5, -3.2), stds=(3.25, 1.75)),
}


@dataclass(frozen=True)
class SineWaves:
    """Binary images of one sine period across the width, with phase uniform in [0, 360) degrees.

    The thesis (4.5) gives the size (50x50), the binary pixels and the uniform phase; amplitude
    and stroke width are not stated, so they are chosen to keep the curve inside the frame and
    visible. Pixels are -1 (background) or 1 (curve), the [-1, 1] range of every image here.
    """

    size: int = 50
    amplitude: float = 0.4
    half_thickness: float = 1.5

    def sample(self, count: int) -> torch.Tensor:
        """``count`` images, float (count, 1, size, size), phases from torch's global generator."""
        return self.draw(torch.rand(count) * 2 * math.pi)

    def draw(self, phases: torch.Tensor) -> torch.Tensor:
        """One image per phase (radians, shape (N,)): float (N, 1, size, size) of -1 and 1."""
        columns = torch.arange(self.size).view(1, 1, -1)
        rows = torch.arange(self.size).view(1, -1, 1)
        centre = (self.size - 1) / 2
        curve = centre - self.amplitude * self.size * torch.sin(
            2 * math.pi * columns / self.size + phases.view(-1, 1, 1)
        )
        on_curve = (rows - curve).abs() <= self.half_thickness
        return on_curve.float().mul(2).sub(1).unsqueeze(1)
