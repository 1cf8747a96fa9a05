"""Agents: a grid of configs tried on each task (`grid`), the one rule that picks an answer
(`selection`), running them (`solve`, `pool`), and the generation cache (`cache`)."""
