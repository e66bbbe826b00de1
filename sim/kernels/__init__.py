"""numba inner loops only: arrays in, arrays out; no objects, no simpy, no I/O."""
