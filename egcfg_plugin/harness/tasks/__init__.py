"""lm-eval task YAMLs for egcfg (pass this folder to --include_path, or let the .pth hook add it)."""
