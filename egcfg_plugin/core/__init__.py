"""The EG-CFG method: configs, guidance math, signal, line handling, prompts, the backend contract
and its backends, and the decoding loop. Knows no harness, no agents, no CLI."""
