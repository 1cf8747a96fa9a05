"""The harness faces: lm-eval model class and tasks, the EvalPlus decoder. The only modules that
import lm_eval or evalplus; each stays thin and goes through `agents.solve`."""
