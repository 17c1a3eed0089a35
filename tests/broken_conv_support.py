"""What the ports with a broken conv-pool layer share: the reference, with its conv-pool layers built from
the port's own class. Each such port writes its one wrong function and takes `Model = with_conv_layer(Class)`;
nothing of the reference's modules is changed (the reference runs in the same process). A port needs only
NAME and Model: the contract's other names have defaults.
"""

import reference


def with_conv_layer(conv_layer: type) -> type:
    """The reference's Model, each of its conv-pool layers a `conv_layer` (a subclass of reference.layers.ConvPool)."""

    class Model(reference.Model):
        def __init__(self, spec, params, device="cpu"):
            super().__init__(spec, params, device)
            built = zip(spec.network.layers, spec.network.layer_input_shapes, self.network.layers)
            self.network.layers = [
                conv_layer(layer, shape) if layer.type == "conv" else same for layer, shape, same in built
            ]

    return Model
