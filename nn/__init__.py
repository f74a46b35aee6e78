"""Neural-network modules, layers, activations, losses and training utilities built on autograd_core."""
