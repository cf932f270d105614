"""Blind MOS studies of the SR methods: stimuli, rating sessions, the ratings CSV and its analysis.

The pieces, one concern each:

- :mod:`studio.mos.study`: which HR images and methods a study has; its stimuli, prepared once,
  cached on disk and traced in a manifest (image and weights sha256).
- :mod:`studio.mos.protocol`: one rater's trial plan (calibration, balanced random order,
  repeats, gold and trap items), as the SRGAN paper and ITU-T P.808 run them.
- :mod:`studio.mos.session`: a rater's session over that plan: what the browser is shown
  (pixels only, never a method) and what is recorded.
- :mod:`studio.mos.storage`: the append-only ratings CSV, safe for many writers and crashes.
- :mod:`studio.mos.push`: the optional periodic push of the CSV to a Hugging Face dataset.
- :mod:`studio.mos.stats`, :mod:`studio.mos.screening`, :mod:`studio.mos.analysis`,
  :mod:`studio.mos.plots`: MOS with confidence intervals, rater screening, tests, figures.
- :mod:`studio.mos.cli`: ``python -m sr_core mos-prepare`` and ``mos-report``.
"""
