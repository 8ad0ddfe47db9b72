"""Benchmarks behind every claim in the README (`make bench`). Not tests: they measure, they do not assert."""
