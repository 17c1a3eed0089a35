"""The border with the backends: the contract a backend meets, the registry that loads one (the
only module of conformance/ that names the frameworks' backends), and what a record ran on.

It imports the data and spec wings.
"""
