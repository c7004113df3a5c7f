"""The held-out Explain evaluation of issue 13: faults injected into every real robot recording
in ``../shared/data``, scored per robot, with the robots split into a tune fold and a held-out
fold. ``robots`` loads the episodes (long recordings cut into windows), ``kinds`` builds the
physically plausible faults, ``scoring`` runs Explain through ``analysis.peer_explain`` and
tabulates. ``benchmarks/eval_explain_heldout.py`` prints the figures."""
