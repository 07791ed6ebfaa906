"""Benchmarks (``make bench``): rerunnable, reporting medians and ratios."""
