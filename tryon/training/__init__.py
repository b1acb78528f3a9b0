"""Training: losses, the accelerate training loop and its configs."""
