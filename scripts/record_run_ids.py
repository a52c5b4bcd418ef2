"""pytest plugin: record every resolve() input and the run id of its result.

Used once, before issue 15's refactor, to write tests/data/run_ids_before_issue15.jsonl.gz:
    PYTHONPATH=scripts python -m pytest -n 2 -p record_run_ids   # writes /tmp/rec/ids-<pid>.jsonl
then the lines were deduplicated (config stored as its difference from RunConfig()). Never re-record after a
change to config parsing: the table is the record of the ids *before* it.
"""
import importlib
import json
import os
import pkgutil
import sys

import vanishing
import vanishing.config as C

_orig = C.resolve
_out = open(f"/tmp/rec/ids-{os.getpid()}.jsonl", "a")

def resolve(config, *a, **k):
    out = _orig(config, *a, **k)
    try:
        _out.write(json.dumps({"input": C.to_dict(config), "id": C.run_id(out)}) + "\n"); _out.flush()
    except Exception as e:
        pass
    return out

def pytest_configure(config):
    for m in pkgutil.walk_packages(vanishing.__path__, "vanishing."):
        if m.name.endswith('__main__'): continue
        try: importlib.import_module(m.name)
        except BaseException: pass
    for name, mod in list(sys.modules.items()):
        if name.startswith("vanishing") and getattr(mod, "resolve", None) is _orig:
            mod.resolve = resolve
