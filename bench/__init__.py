"""Benchmarks (`make bench`): figures recorded under bench/results/."""
