"""Run ids are the store's keys: a refactor of config parsing must never change them.

``tests/data/run_ids_before_issue15.jsonl.gz`` holds every config the test
suite passed to :func:`vanishing.config.resolve` (1,491 distinct ones, as the
difference from the default :class:`RunConfig`) and the run id of the
resolved config, recorded on main before the parse-once refactor of issue 15
with ``scripts/record_run_ids.py``. Each is rebuilt from its dict, resolved
and hashed again here.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from vanishing.config import config_from_dict, resolve, run_id

TABLE = Path(__file__).parent / "data" / "run_ids_before_issue15.jsonl.gz"


def _rows() -> list[dict]:
    with gzip.open(TABLE, "rt") as f:
        return [json.loads(line) for line in f]


def test_every_recorded_run_id_is_unchanged():
    rows = _rows()
    assert len(rows) > 1000  # the whole table, not an empty file
    changed = [(r["config"], r["run_id"], got) for r in rows
               if (got := run_id(resolve(config_from_dict(r["config"])))) != r["run_id"]]
    assert not changed, f"{len(changed)} of {len(rows)} run ids changed, e.g. {changed[:3]}"


def test_the_table_covers_every_component_kind():
    """The recorded configs exercise the spec strings the refactor touches (activations, inits, optimizers, schedules)."""
    rows = _rows()
    seen = {key: {json.dumps(r["config"].get(sec, {}).get(key)) for r in rows}
            for sec, key in [("model", "activation"), ("model", "init"), ("optim", "optimizer"),
                             ("optim", "schedule"), ("model", "bias_init"), ("probes", "enabled")]}
    for key, values in seen.items():
        assert len(values) >= 3, (key, values)
