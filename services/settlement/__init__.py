"""Settlement: coverage projection, annual accumulators, adjudication and the settlement ledger."""
