"""Verify: is a candidate policy safe to ship?

Compares the candidate's episodes with a baseline's (outcome statistics, findings, smoothness,
tracking), optionally re-rolls the candidate policy offline on the baseline's recorded
observations, and gates the result with thresholds from a TOML file. Qt-free: the CLI
(``commands/verify_cmd.py``) and the Regression panel (``ui/regression_panel.py``) both call
``verify.run.run_verify``.
"""
