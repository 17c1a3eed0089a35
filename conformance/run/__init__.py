"""A training run: the shared epoch loop, checkpoints, runs that survive a kill and resume, the
layers' speeds of learning, and a run as one function (session.train).

It imports the backend, data and spec wings.
"""
