"""Notebooks without a person at the keyboard: papermill engine, CLI helpers, `load_notebook`."""
