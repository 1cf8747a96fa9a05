"""Benchmark adapters: dataset rows to Problems (visible tests) and hidden tests for scoring."""
