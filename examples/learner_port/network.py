"""A network of sigmoid neurons trained by mini-batch SGD, as a reader of chapters 1-3 of Michael
Nielsen's "Neural Networks and Deep Learning" might write it, one example at a time.

Every vector is a column: an input x is (784, 1), a desired output y is (10, 1), layer l's biases
b^l are (n_l, 1) and its weights W^l are (n_l, n_{l-1}), so that z^l = W^l a^{l-1} + b^l and
a^l = sigma(z^l). Written for nndl's walkthrough "Check your own port" (README); adapter.py
hands it to `nndl conform`.
"""

import numpy as np


def sigmoid(z):
    """sigma(z) = 1 / (1 + e^-z) (ch. 1, eq. 3)."""
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    """sigma'(z) = sigma(z) (1 - sigma(z))."""
    s = sigmoid(z)
    return s * (1.0 - s)


class QuadraticCost:
    @staticmethod
    def fn(a, y):
        """C = ||y - a||^2 / 2 (ch. 1, eq. 6), summed over the columns of a and y."""
        return 0.5 * np.sum((a - y) ** 2)

    @staticmethod
    def delta(z, a, y):
        """BP1 for the quadratic cost: delta^L = (a^L - y) * sigma'(z^L)."""
        return (a - y) * sigmoid_prime(z)


class CrossEntropyCost:
    @staticmethod
    def fn(a, y):
        """C = -sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)] (ch. 3), summed over the columns.

        nan_to_num turns 0 ln 0, where a_j = y_j exactly, into the 0 it is in the limit.
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        """BP1 for the cross-entropy: delta^L = a^L - y, because sigma'(z^L) cancels (ch. 3)."""
        return a - y


class Network:
    def __init__(self, weights, biases, cost=CrossEntropyCost):
        """weights[l] is (n_out, n_in) and biases[l] an (n_out, 1) column; layer 0 takes the input."""
        self.weights = weights
        self.biases = biases
        self.cost = cost

    def feedforward(self, a):
        """The output a^L for an input a (a column, or several side by side): a^l = sigma(W^l a^{l-1} + b^l)."""
        for w, b in zip(self.weights, self.biases):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def update_mini_batch(self, batch, eta, lmbda, n):
        """One SGD step on a mini-batch of m (x, y) pairs, with L2 weight decay (ch. 3):
        W <- (1 - eta lambda / n) W - (eta / m) sum_x dC_x/dW and b <- b - (eta / m) sum_x dC_x/db.

        n is the whole training set's size, not the mini-batch's: the regulariser belongs to the
        cost of the whole set.
        """
        nabla_b, nabla_w = self.summed_gradient(batch)
        m = len(batch)
        self.weights = [(1 - eta * lmbda / n) * w - (eta / m) * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / m) * nb for b, nb in zip(self.biases, nabla_b)]

    def summed_gradient(self, batch):
        """(sum_x dC_x/db, sum_x dC_x/dW) over the batch's examples, layer by layer."""
        nabla_b = [np.zeros_like(b) for b in self.biases]
        nabla_w = [np.zeros_like(w) for w in self.weights]
        for x, y in batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        return nabla_b, nabla_w

    def backprop(self, x, y):
        """(nabla_b, nabla_w): the gradient of one example's cost C_x, layer by layer (ch. 2)."""
        activations, zs = [x], []  # activations[l] is layer l's input, zs[l] its weighted input
        for w, b in zip(self.weights, self.biases):
            zs.append(np.dot(w, activations[-1]) + b)
            activations.append(sigmoid(zs[-1]))
        nabla_b, nabla_w = [None] * len(self.biases), [None] * len(self.weights)
        delta = self.cost.delta(zs[-1], activations[-1], y)  # BP1: the output layer's error
        for l in reversed(range(len(self.weights))):
            nabla_b[l] = delta  # BP3: dC/db^l = delta^l
            nabla_w[l] = np.dot(delta, activations[l].T)  # BP4: dC/dW^l = delta^l (a^{l-1})^T
            if l > 0:
                delta = self.hidden_delta(self.weights[l], delta, zs[l - 1])
        return nabla_b, nabla_w

    @staticmethod
    def hidden_delta(w_above, delta_above, z):
        """BP2, the error one layer down: delta^l = ((W^{l+1})^T delta^{l+1}) * sigma'(z^l)."""
        return np.dot(w_above.T, delta_above) * sigmoid_prime(z)
