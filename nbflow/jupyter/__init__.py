"""Adapters between IPython/Jupyter and the core: magics, per-step output, widget."""
