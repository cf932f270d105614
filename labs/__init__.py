"""Research beside the SR library: the thesis's GAN experiments and ZS-CGAN on MNIST.

The labs import the library (:mod:`sr_core`); the library never imports them. :mod:`labs.mnist`
is the data both labs share.
"""
