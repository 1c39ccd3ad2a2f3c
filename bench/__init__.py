"""Benchmark tooling for the warehouse: synthetic snapshots that grow the universe far past the
bundled real one (see ``bench.synthetic``)."""
