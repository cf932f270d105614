"""GAN models and experiments: the thesis's GAN experiments and the CapsNet-GAN report's models.

registry.py       names -> builders (gan1d, sine, dcgan, wgan, wgan-gp, acgan, infogan)
model.py          what every GAN shares; each family owns its train_step:
goodfellow.py     Goodfellow's algorithm (k D steps per G step): 1-D, sine waves, DCGAN
wgan.py           WGAN (weight clipping) and WGAN-GP
acgan.py, infogan.py
generators.py     linear / MLP (thesis), sine-wave, the report's DCGAN generator
discriminators.py shared heads; MLP, sine and classical CNN bodies
capsule.py        the report's capsule discriminator body
layers.py, losses.py
data.py, toy.py, sources.py   MNIST or image folders; 1-D targets and sine waves
trainer.py        the step-based loop: checkpoints, resume, CSV, sample grids
classifier.py, metrics.py, evaluation.py   FD/KID in a small MNIST classifier's features
plots.py, runs.py, live.py    plotly reports, the run gallery, live 1-D training (GAN Lab)
bundle.py, sampling.py         the runs bundled with the project; drawing samples from them
cli.py            gan-train, gan-eval and gan-bundle
"""
