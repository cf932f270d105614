"""Data-free int8 SR models: PTQ calibrated by a generator that learned the network's BN statistics.

A generator learns to produce inputs whose statistics match those stored in a frozen
network's batch-norm layers (ZS-CGAN, Choi et al.); its samples then calibrate int8
post-training quantization (PTQ) without touching the data the network was trained on.
The MNIST experiment of the paper is a lab (:mod:`labs.zscgan`).

    generator.py    the (conditional) batch-norm generator
    bns.py          batch-norm statistics of a network's inputs, and the losses that match them
    zscgan.py       zero-shot training of the generator (CE, BNS, CE+BNS, GDFQ's moment MSE)
    ptq.py          int8/int6 quantization configs and static PTQ with PyTorch 2 export (torchao)
    sr.py           LR images matching SRResNet/Swift-SRGAN BN layers; scoring and timing int8 variants
    int8_models.py  the app's int8 models (``swiftsrgan-int8`` ...): float weights + activation ranges
"""
