"""Training utilities: gradient clipping, parameter vectors, gradient-flow monitoring, the fit loop."""
