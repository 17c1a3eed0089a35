"""The PyTorch backend: the same modules as reference/, with gradients from autograd. Not written yet."""
