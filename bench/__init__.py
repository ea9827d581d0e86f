"""Benchmarks run by `make bench`. Each module has a `main()` that prints its figures,
always as a ratio against a baseline measured in the same run, so machines can be compared."""
