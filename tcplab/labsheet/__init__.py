"""Lab sheets that check themselves.

Theory of operation
-------------------
A lab sheet (``docs/labs/*.md``, specified in ``docs/labs/README.md``) is Markdown for
the student with two kinds of fenced blocks for the program: the ``lab-setup`` (topology,
settings, commands run at the start) and one ``check NAME`` per exercise -- roles that
name connections by what they are, and conditions in the command language's ``expect``
family and its extensions (:mod:`~tcplab.labsheet.sheet`,
:mod:`~tcplab.labsheet.conditions`).

A :class:`~tcplab.labsheet.checker.Checker` is fed a run's events as their recorded
dicts (:mod:`~tcplab.labsheet.tracker` folds them) and says which exercises are done,
which attempts failed and what is missing.  The same checker ticks the exercises in the
dashboard (:mod:`tcplab.tui.labsheet`) and grades a recording
(:mod:`~tcplab.labsheet.grade`); :mod:`~tcplab.labsheet.runner` builds a sheet's lab and
runs solutions headless; :mod:`~tcplab.labsheet.progress` keeps a student's ticks
between sessions; :mod:`~tcplab.labsheet.cli` is ``tcplab lab``.
"""
