"""The mapper: per layer, search the mapping space of a hardware config for the best mapping record
(docs/mapper.md). `space` generates candidates, `evaluate` scores batches of them with the vectorized analytical
model, `search` picks (exhaustive / pruned / heuristic) and validates the top-k with the engine."""
