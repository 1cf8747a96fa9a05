import pytest


@pytest.fixture(scope="session")
def tiny():
    """(model, tokenizer): a tiny random Qwen2 with the real default tokenizer."""
    from tests.tiny import tiny_model

    return tiny_model()
