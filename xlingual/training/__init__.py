"""Training layer: the accelerate loop, optimiser, objectives and batch streams."""
