"""Activation functions sigma(z), as PyTorch operations.

Autograd differentiates these, so unlike reference/activations.py there is no `prime`: the
sigma'(z) of BP2 comes from each operation's own backward rule.
"""

import torch


class Sigmoid:
    @staticmethod
    def fn(z):
        """sigma(z) = 1 / (1 + e^-z) (eq. 3); torch.sigmoid saturates to 0 and 1 without warning."""
        return torch.sigmoid(z)


class Tanh:
    @staticmethod
    def fn(z):
        """tanh(z) (chapter 3, 'other models of artificial neuron')."""
        return torch.tanh(z)


class ReLU:
    @staticmethod
    def fn(z):
        """max(0, z), the rectified linear unit (ch. 3, 'other models of artificial neuron'; ch. 6).

        Its backward rule takes the derivative at 0 as 0, as the reference does.
        """
        return torch.relu(z)


class Linear:
    @staticmethod
    def fn(z):
        """The identity a = z (network3's linear activation, ch. 6)."""
        return z


class Softmax:
    @staticmethod
    def fn(z):
        """a_j = e^{z_j} / sum_k e^{z_k} (ch. 3, softmax); torch.softmax shifts by max z itself."""
        return torch.softmax(z, dim=-1)


ACTIVATIONS = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU, "linear": Linear, "softmax": Softmax}
