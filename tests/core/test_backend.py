"""The backend contract's input side: model arguments, the factory, and one-line errors for bad
input. No model is loaded here (the llama.cpp model checks are in test_backend_llamacpp.py)."""
import hashlib
import sys

import pytest

from egcfg_plugin.core import backend, models
from egcfg_plugin.core.backend import BackendError, ModelSpec


def test_model_argument_names_the_model_and_the_backend():
    spec = ModelSpec.parse("default,backend=llamacpp,threads=2,n_ctx=4096")
    assert (spec.name, spec.backend, spec.threads, spec.n_ctx) == ("default", "llamacpp", 2, 4096)
    assert ModelSpec.parse(str(spec)) == spec                       # round trip
    assert ModelSpec.parse("model=/m/x,backend=hf").name == "/m/x"
    assert ModelSpec.parse("Qwen/Qwen2.5-Coder-7B-Instruct").resolved_backend() == "hf"
    assert ModelSpec.parse("/models/q.gguf").resolved_backend() == "llamacpp"
    assert ModelSpec.parse("/models/q.gguf,backend=hf").resolved_backend() == "hf"
    assert ModelSpec.parse(None).name == "default"


@pytest.mark.parametrize("arg, named", [
    ("default,threads=0", "threads='0'"),
    ("default,threads=-2", "threads='-2'"),
    ("default,threads=two", "threads='two'"),
    ("default,n_ctx=0", "n_ctx='0'"),
    ("default,backend=llama", "backend='llama'"),
    ("default,thread=2", "'thread'"),
])
def test_bad_model_arguments_are_one_line_errors_naming_value_and_fix(arg, named):
    with pytest.raises(BackendError) as e:
        ModelSpec.parse(arg)
    msg = str(e.value)
    assert named in msg and "\n" not in msg
    assert any(fix in msg for fix in ("positive integer", "did you mean 'llamacpp'", "use a model name"))


def test_threads_default_to_the_cores_this_process_may_use(monkeypatch):
    monkeypatch.setattr(backend.os, "sched_getaffinity", lambda pid: {0, 3, 5}, raising=False)
    assert backend.available_cores() == 3


def test_factory_builds_the_backend_the_model_names_and_imports_lazily():
    class Named:
        egcfg_backend = "nope"

    with pytest.raises(BackendError, match="backend='nope' is unknown"):
        backend.make_backend(Named(), None)
    assert set(backend.BACKENDS) == set(backend.LOADERS) == {"hf", "llamacpp", "endpoint"}
    for spec in list(backend.BACKENDS.values()) + list(backend.LOADERS.values()):
        module, _, name = spec.partition(":")
        assert module.startswith("egcfg_plugin.core.") and name


def test_the_contract_module_imports_no_model_library():
    code = ("import sys, egcfg_plugin.core.backend, egcfg_plugin.core.decoding; "
            "print(any(m in sys.modules for m in ('torch', 'llama_cpp', 'transformers')))")
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_decoding_imports_no_concrete_backend():
    from pathlib import Path

    src = (Path(backend.__file__).parent / "decoding.py").read_text()
    assert "backend_hf" not in src and "backend_llamacpp" not in src


def test_missing_gguf_is_named(tmp_path):
    with pytest.raises(BackendError, match=r"no such file") as e:
        models.resolve_gguf(str(tmp_path / "absent.gguf"))
    assert "absent.gguf" in str(e.value)


def test_corrupt_pinned_gguf_fails_on_sha256_and_says_how_to_fix(tmp_path, monkeypatch):
    data = b"not the pinned weights"
    spec = models.PinnedGGUF("fake-model", "fake-part", "1.0", 1, hashlib.sha256(b"other").hexdigest(), "x/y")
    monkeypatch.setitem(models.DEFAULT_MODELS, "fake-model", spec)
    monkeypatch.setenv("EGCFG_CACHE_DIR", str(tmp_path))
    (tmp_path / "gguf").mkdir()
    (tmp_path / "gguf" / "fake-model.gguf").write_bytes(data)
    with pytest.raises(BackendError) as e:
        models.resolve_gguf("fake-model")
    msg = str(e.value)
    assert hashlib.sha256(data).hexdigest()[:16] in msg and spec.sha256[:16] in msg
    assert "egcfg fetch-model fake-model" in msg and "\n" not in msg


def test_a_gguf_path_is_hashed_as_it_is(tmp_path):
    f = tmp_path / "m.gguf"
    f.write_bytes(b"abc")
    assert models.resolve_gguf(str(f)) == (f, hashlib.sha256(b"abc").hexdigest())


def test_resolve_model_path_drops_backend_settings():
    assert models.resolve_model_path("/some/folder,backend=hf,threads=2") == "/some/folder"


def test_stop_reason_is_a_string_in_json_and_caches():
    import json

    from egcfg_plugin.core.decoding import StopReason

    assert StopReason.EOS == "eos" and f"{StopReason.VISIBLE_PASS}" == "visible_pass"
    assert json.dumps({"r": StopReason.END_OF_CODE}) == '{"r": "end_of_code"}'
    assert StopReason("early_stop") is StopReason.EARLY_STOP
