"""What the app and the command line do with the SR library: the CLI, the app's tabs and the services
behind them, figures, frame streams, and the blind MOS studies.

It imports the library (:mod:`sr_core`) and the labs (:mod:`labs`); neither imports it.
"""
