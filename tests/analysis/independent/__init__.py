"""A second, independent fault-injection set for Explain (issue 13's honest evaluation).

Written clean-room: from the physics of each fault and the issue's text, without reading the
detectors (``analysis/causes``) nor the first held-out set's builders (``heldout/kinds_*``,
``heldout/signals``). Only the plumbing is shared: ``faults.Fault``/``FaultySource`` (how a
fault edits an episode), ``heldout.robots`` (the robots' clean episodes and the folds),
``heldout.scoring`` (Case, run, false alarms, tables) and ``heldout.kinds.ACCEPTED`` (which
cause ids count as the right answer). An outside evaluator will bring an injector of their own;
this set exists so the team sees how Explain does on faults its authors did not write.

``signals`` has the small physics helpers (noise floor, lag, command/measured pairs),
``motion`` and ``timing`` the builders, ``cases`` the case loop;
``benchmarks/eval_explain_independent.py`` prints the figures.
"""
