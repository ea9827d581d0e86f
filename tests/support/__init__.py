"""Helpers the tests (and the benchmarks) share: sample data as the services produce it."""
