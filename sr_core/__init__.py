"""SR Studio's SR library: models, weights, inference, metrics, interpolation, int8 variants, training.

It imports nothing above it: the studio (CLI, app tabs, MOS studies) and the labs (GAN and
ZS-CGAN experiments) use it, never the other way round. ``python -m sr_core`` forwards to the
studio's command line (:mod:`studio.cli`), the one place the library names the studio.
"""

__version__ = "0.1.0"
