"""The evaluator: turns stored interactions into rewards, in batches, off the request path."""
