"""Settlement: signed batches pushed on-chain exactly once."""
