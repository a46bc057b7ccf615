"""Evaluation harness: replay recordings against labelled cascade intervals.

``liqmon evaluate --labels FILE REPLAY...`` (`monitor.evaluation.command`) replays each
recording through the same pipeline as ``liqmon replay`` and reports, per label, whether
and when it was detected, and overall event recall, precision, median and p90 delay from
onset, lead before the peak, false alarms per asset-day and time in alert
(`monitor.evaluation.scoring`). The labels format (CSV or YAML with
``scope``/``asset``, ``onset``, ``peak``, ``end`` in ISO-8601 UTC, optional ``match``,
``name``, ``recording``) is documented in `monitor.evaluation.labels`.
"""

from __future__ import annotations

from monitor.evaluation.command import add_parser, replay_recording, report_dict, run
from monitor.evaluation.labels import Label, read_labels, write_labels
from monitor.evaluation.scoring import Recording, Report, Rules, score

__all__ = [
    "Label",
    "Recording",
    "Report",
    "Rules",
    "add_parser",
    "read_labels",
    "replay_recording",
    "report_dict",
    "run",
    "score",
    "write_labels",
]
