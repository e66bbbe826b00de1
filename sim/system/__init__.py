"""Systems of several accelerators working on one network.

spec (system config: accelerators, links, topology) · partition (who runs which work: layer pipeline, data parallel,
tensor split) · engine (every accelerator and link on one SimPy clock) · partitioner (search with the analytical
model, validated by the engine).
"""
