"""The function's own model (crates/planton-model) compiled to WebAssembly
(planton_model.wasm beside this file, built by scripts/build-wasm), run through wasmtime:
check(request) gives a resource's refusals, judge(documents) each document's judgement,
VERSION the names a host reads a template by.

The ABI (crates/planton-model-wasm/src/lib.rs): the request is copied into memory from
planton_alloc; a verb returns (ptr << 32) | len of a JSON answer, {"ok": ...} or
{"error": "..."}; the host frees both buffers with planton_free.
"""

import atexit
import json
from pathlib import Path

import wasmtime

ABI = 1
MODULE = Path(__file__).resolve().parent / "planton_model.wasm"


class ModelError(Exception):
    """The module is missing or not the one this host reads, or refused a request."""


class _Model:
    def __init__(self, path):
        if not path.is_file():
            raise ModelError(f"{path} is missing: build it with scripts/build-wasm, or use a release's lint bundle (lint/README.md)")
        config = wasmtime.Config()
        try:
            config.cache = True  # wasmtime's own cache of compiled code: later runs skip compiling
        except wasmtime.WasmtimeError:
            pass
        self.engine = wasmtime.Engine(config)
        self.module = wasmtime.Module.from_file(self.engine, str(path))
        self._instantiate()

    def _instantiate(self):
        self.store = wasmtime.Store(self.engine)
        self.exports = wasmtime.Instance(self.store, self.module, []).exports(self.store)

    def answer(self, verb, request=None):
        """The module's JSON answer, {"ok": ...} or {"error": "..."}."""
        x, store = self.exports, self.store
        try:
            args = ()
            if request is not None:
                data = json.dumps(request, ensure_ascii=False).encode("utf-8")
                args = (x["planton_alloc"](store, len(data)), len(data))
                x["memory"].write(store, data, args[0])
            try:
                packed = x[f"planton_{verb}"](store, *args) & 0xFFFFFFFFFFFFFFFF
            finally:
                if args:
                    x["planton_free"](store, *args)
            ptr, length = packed >> 32, packed & 0xFFFFFFFF
            raw = x["memory"].read(store, ptr, ptr + length)
            x["planton_free"](store, ptr, length)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as e:  # a trap leaves the instance unusable: start anew
            self._instantiate()
            raise ModelError(f"planton_{verb} failed in the module: {e}") from e
        return json.loads(bytes(raw).decode("utf-8"))


_model = _Model(MODULE)
answer = _model.answer


@atexit.register
def _close():
    # Before the interpreter tears wasmtime down (its finalizers fail after that).
    _model.exports = None
    for handle in (_model.store, _model.module, _model.engine):
        handle.close()


def _ok(verb, request=None):
    reply = answer(verb, request)
    if "error" in reply:
        raise ModelError(f"planton_{verb}: {reply['error']}")
    return reply["ok"]


VERSION = _ok("version")
if VERSION.get("abi") != ABI:
    raise ModelError(f"{MODULE} speaks ABI {VERSION.get('abi')}, this host ABI {ABI}: rebuild it from the same source (scripts/build-wasm)")
UNRESOLVED = VERSION["unresolved"]


def check(request):
    """The refusals ({"property", "rule", "stage", "lifted_by"}) of {"Properties", "Partition", "ManagedPolicies", "Groups", "EveryStage"}."""
    return _ok("check", request)


def judge(documents):
    """{"escalation", "findings"} for each document of a list (or a dict by name)."""
    return _ok("judge", {"Documents": documents})
