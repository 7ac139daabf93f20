"""Benchmarks: separate commands (`qcp bench ...`) writing JSON reports to reports/, never pass/fail tests."""
