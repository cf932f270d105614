"""Data-free quantization: ZS-CGAN (Choi et al.) on an MNIST classifier, and int8 SR generators.

A generator learns to produce inputs whose statistics match those stored in a frozen
network's batch-norm layers; its samples then calibrate int8 post-training quantization
(PTQ) or drive quantization-aware training (QAT) by distillation, without touching the data
the network was trained on.

    teacher.py    the small ResNet-style MNIST classifier being quantized
    generator.py  the (conditional) batch-norm generator
    bns.py        batch-norm statistics of a network's inputs, and the losses that match them
    zscgan.py     zero-shot training of the generator (CE, BNS, CE+BNS, GDFQ's moment MSE)
    ptq.py        int8/int6 quantization configs and static PTQ with PyTorch 2 export (torchao)
    qat.py        QAT by knowledge distillation (the paper's eq. 4)
    sr.py         the same idea for SR generators: LR images matching SRResNet/Swift-SRGAN BN layers
    cli.py        ``python -m sr_core zscgan`` and ``python -m sr_core quantize``
"""
