"""Evaluation: base against adapters on held-out rows, and what they forgot.

``lorakit.eval.run.evaluate`` is the one entry function; the CLI
(``lorakit eval``), the demo and the UI all call it.
"""
