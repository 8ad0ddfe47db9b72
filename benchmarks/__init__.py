"""Benchmarks behind every claim in the README (`make bench`). Not tests: they measure, they do not assert."""

from wherewhen.memory import keep_freed_memory

keep_freed_memory()  # the process settings of the `wherewhen` command, so the figures are what its users get
