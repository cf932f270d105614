"""SR Studio core library: super-resolution and GAN models, metrics, inference and training."""

__version__ = "0.1.0"
