"""umbral's version, in a module of its own: the load cache keys on it, and importing the
``umbral`` package for it would tie that cache to the package's lazy public names."""

__version__ = "0.1.0"
