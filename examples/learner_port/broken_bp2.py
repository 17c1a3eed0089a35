"""The learner's port with one line of BP2 broken on purpose: sigma'(a^l) where BP2 has sigma'(z^l),
a slip that comes easily when the activations are at hand for BP4.

    PYTHONPATH=. nndl conform --explain --backends numpy,examples.learner_port.broken_bp2
"""

import numpy as np

from examples.learner_port import adapter
from examples.learner_port.network import Network, sigmoid, sigmoid_prime

NAME = "learner-bp2bug"
supports = adapter.supports


class SigmaPrimeOfActivation(Network):
    @staticmethod
    def hidden_delta(w_above, delta_above, z):
        return np.dot(w_above.T, delta_above) * sigmoid_prime(sigmoid(z))  # the bug: sigma'(a^l)


class Model(adapter.Model):
    network_class = SigmaPrimeOfActivation
