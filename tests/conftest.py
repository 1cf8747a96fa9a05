import os
import tempfile

import pytest

# Generations made by the tests never reach the user's cache (~/.cache/egcfg/generations), and a
# test never reads back a generation made by an earlier run: every session gets its own cache.
# Subprocesses (lm_eval, egcfg CLIs) inherit it.
os.environ["EGCFG_GENERATION_CACHE"] = tempfile.mkdtemp(prefix="egcfg-test-generations-")


@pytest.fixture(scope="session")
def tiny():
    """(model, tokenizer): a tiny random Qwen2 with the real default tokenizer."""
    from tests.tiny import tiny_model

    return tiny_model()


@pytest.fixture(scope="session")
def et_samples():
    """The folder of ET format samples (``samples/`` under a data root: EGCFG_DATA_DIR or
    ../shared/data); the test is skipped, naming where it looked, when no root has one."""
    from task_adapters import data

    roots = data.data_roots()
    for root in roots:
        if (root / "samples").is_dir():
            return root / "samples"
    pytest.skip(f"no samples/ folder under the data roots {[str(r) for r in roots]}; set EGCFG_DATA_DIR")
