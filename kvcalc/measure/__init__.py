"""--measure: the cache allocated for real with PyTorch (measure), from the runtime's own cache
code or from a re-derivation written apart from the formulas (derive), and one decode step of
grouped-query attention (attention). torch is imported inside functions only."""
