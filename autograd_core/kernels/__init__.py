"""Kernels: the numpy reference and the Numba implementation of each hot computation, side by side."""
