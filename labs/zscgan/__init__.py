"""ZS-CGAN (Choi et al.) at MNIST scale: the paper's Tables 1-2 on a small MNIST ResNet.

The data-free method itself (generator, BN-statistics losses, zero-shot training, PTQ) lives in
the library (:mod:`sr_core.quant`), which uses it to calibrate the int8 SR models; this lab adds
the MNIST teacher, distillation QAT and the experiment.

    teacher.py     the small ResNet-style MNIST classifier being quantized
    qat.py         QAT by knowledge distillation (the paper's eq. 4)
    samples.py     labelled synthetic digit sets and per-class grids
    experiment.py  the tables: FP32, DF-PTQ, DF-QAT, DD-PTQ, DD-QAT at INT8 and INT6
    cli.py         ``python -m sr_core zscgan``
"""
