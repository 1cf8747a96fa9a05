"""A small client for the OpenAI-compatible `/v1/completions` API (standard library only).

    client = CompletionsClient("http://127.0.0.1:8080/v1", "qwen", api_key=None, timeout=60)
    body = client.complete({"prompt": "def f", "max_tokens": 8, "logprobs": 5})

Retries with exponential backoff on 429, 5xx, timeouts and refused connections; every failure
ends as an `EndpointError` whose `kind` classifies it and whose one-line message names the fix:

    kind          cause
    down          connection refused / unreachable (after retries)
    timeout       no answer within `timeout` seconds (after retries)
    server_error  429 or 5xx (after retries)
    unauthorized  401 / 403: the API key
    not_found     404: the base_url path or the model name
    k_too_large   400/422 (or a validation error) naming logprobs: K above the server's limit
                  (vLLM --max-logprobs)
    bad_request   another 400/422 or validation error
    malformed     the body is not JSON, or not a completions response
    no_logprobs   a choice without the top-K log-probs that guidance needs
"""
from __future__ import annotations

import json
import logging
import socket
import time
import urllib.error
import urllib.request

from egcfg_plugin.core.backend import BackendError

log = logging.getLogger(__name__)

RETRY_STATUS = {429, 500, 502, 503, 504}


class EndpointError(BackendError):
    """A classified endpoint failure (`kind`, see the module docstring)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class CompletionsClient:
    def __init__(self, base_url: str, model_name: str | None, *, api_key: str | None = None,
                 timeout: float = 60.0, retries: int = 3, backoff: float = 0.5):
        self.base_url = base_url.rstrip("/")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        self.url = self.base_url + "/completions"
        self.model_name = model_name
        self.api_key = api_key
        self.timeout, self.retries, self.backoff = timeout, retries, backoff

    def complete(self, payload: dict) -> dict:
        """POST one completions request; the parsed JSON body (a dict with `choices`)."""
        body = dict(payload)
        if self.model_name:
            body.setdefault("model", self.model_name)
        data = json.dumps(body).encode()
        last: EndpointError | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                return self._post(data)
            except _Retry as e:
                last = e.error
                log.debug("%s: %s (attempt %d of %d)", self.url, e.error, attempt + 1, self.retries + 1)
        raise EndpointError(last.kind, f"{last} (after {self.retries + 1} attempts)")

    def _post(self, data: bytes) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as e:
            raise self._http_error(e.code, _read(e)) from None
        except (TimeoutError, socket.timeout):
            raise _Retry(EndpointError("timeout", f"{self.url}: no answer within {self.timeout:g} s; "
                                                  f"raise timeout= in the model arguments or check the server's load"))
        except (urllib.error.URLError, ConnectionError, OSError) as e:
            reason = getattr(e, "reason", e)
            if isinstance(reason, (TimeoutError, socket.timeout)):
                raise _Retry(EndpointError("timeout", f"{self.url}: no answer within {self.timeout:g} s; "
                                                      f"raise timeout= in the model arguments"))
            raise _Retry(EndpointError("down", f"{self.url}: server unreachable ({reason}); "
                                               f"is it running and is base_url right?"))
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise EndpointError("malformed", f"{self.url}: the response is not JSON "
                                             f"({raw[:80]!r}); is base_url an OpenAI-compatible server?") from None
        if not isinstance(body, dict) or not isinstance(body.get("choices"), list) or not body["choices"]:
            raise EndpointError("malformed", f"{self.url}: the response has no choices ({str(body)[:120]})")
        return body

    def _http_error(self, code: int, text: str) -> Exception:
        short = " ".join(text.split())[:200]
        # llama-cpp-python answers a request it cannot parse with HTTP 500 and "N validation errors":
        # not worth retrying
        invalid = code in (400, 422) or "validation error" in text.lower()
        if code in RETRY_STATUS and not invalid:
            return _Retry(EndpointError("server_error", f"{self.url}: HTTP {code} ({short})"))
        if code in (401, 403):
            return EndpointError("unauthorized", f"{self.url}: HTTP {code}: the server refused the API key; "
                                                 f"set EGCFG_API_KEY (or OPENAI_API_KEY, or api_key_env=NAME)")
        if code == 404:
            return EndpointError("not_found", f"{self.url}: HTTP 404 ({short}); check base_url (it should end "
                                              f"in /v1) and model_name={self.model_name!r}")
        if invalid and "logprob" in text.lower():
            return EndpointError("k_too_large", f"{self.url}: HTTP {code}: the server refused the logprobs "
                                                f"request ({short}); pass a smaller logprobs=K (vLLM allows "
                                                f"--max-logprobs, 20 by default)")
        return EndpointError("bad_request", f"{self.url}: HTTP {code} ({short})")


class _Retry(Exception):
    def __init__(self, error: EndpointError):
        super().__init__(str(error))
        self.error = error


def _read(e: urllib.error.HTTPError) -> str:
    try:
        return e.read().decode("utf-8", errors="replace")
    except Exception:   # a body that cannot be read is no worse than an empty one
        return ""
