"""Calibrating and publishing the int8 SR models, data-free: PTQ ranges from a generator that learned the BN statistics.

A generator learns to produce inputs whose statistics match those stored in a frozen
network's batch-norm layers (ZS-CGAN, Choi et al.); its samples then calibrate int8
post-training quantization (PTQ) without touching the data the network was trained on.
This package sits above inference: it loads and scores models. What runs an int8 model
(:mod:`sr_core.int8`) and the PT2E primitives (:mod:`sr_core.ptq`) sit below it. The MNIST
experiment of the paper is a lab (:mod:`labs.zscgan`).

    generator.py    the (conditional) batch-norm generator
    bns.py          batch-norm statistics of a network's inputs, and the losses that match them
    zscgan.py       zero-shot training of the generator (CE, BNS, CE+BNS, GDFQ's moment MSE)
    sr.py           LR images matching SRResNet/Swift-SRGAN BN layers; scoring and timing int8 variants
    publish.py      shipping a variant that meets the bar, scored as both kinds of CPU run it
"""
