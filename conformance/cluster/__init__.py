"""Sweeps of independent runs on a Dask cluster: `--workers N` (a local cluster) or `--cluster ADDRESS`.

`nndl reproduce`, `nndl ensemble` and `nndl conform --seeds` are each many independent runs. Here
they become one task each, spread over the workers of a Dask cluster (`pip install 'nndl[cluster]'`):
- place.py: the options (`--workers`, `--cluster`, $NNDL_CLUSTER) and where a sweep runs;
- sweep.py: `open_sweep(place, log)`, whose `map` calls a function once per set of arguments, in
  process or as Dask tasks, and hands back each call's value or its error in one line;
- workers.py: what runs on a worker: its threads, and the progress lines it sends the client.

Nothing here imports Dask until a sweep is opened on a cluster: without the options every command
runs in process and needs no Dask installed.
"""
