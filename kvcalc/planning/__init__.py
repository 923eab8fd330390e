"""Capacity planning: the GPU catalog (gpus), what fits (capacity) and its reports (reports), the
planning grid (grid), models side by side (compare) and the chart (chart)."""
