"""Exports: clips for a DAW (daw.py) and curation as a training dataset (dataset.py)."""
