"""The data: MNIST fetched, verified and expanded, and the shared random streams every backend
draws from (initial parameters, batch order, dropout masks).

It imports only the spec wing.
"""
