"""What changed between two versions of a subscription: a structured diff of their snapshots.

Snapshots (``history.snapshot_of``) are plain JSON, so the diff is too: the API answers it as is,
the UI draws it, and the list of versions summarises it in one line. Comparing JSON instead of
rows means a version written before a change of the catalogue still compares.
"""

from __future__ import annotations

import json
from typing import Any

_NOT_FIELDS = ("subscription_id", "blocks", "references")
_BLOCK_PLACE = ("label", "field", "position")


def _changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{key: {"old", "new"}}`` for each key whose value differs (a missing key is None)."""
    return {
        key: {"old": old.get(key), "new": new.get(key)}
        for key in sorted(old.keys() | new.keys())
        if old.get(key) != new.get(key)
    }


def _block(iid: str, block: dict[str, Any]) -> dict[str, Any]:
    return {"id": iid, "name": block["name"], "values": block["values"]}


def diff(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """The changes from snapshot ``old`` (None: nothing yet) to ``new``; see docs/history.md for the format."""
    old = old or {"blocks": {}, "references": {}}
    fields = _changes(
        {k: v for k, v in old.items() if k not in _NOT_FIELDS}, {k: v for k, v in new.items() if k not in _NOT_FIELDS}
    )
    before, after = old["blocks"], new["blocks"]
    changed = []
    for iid in sorted(before.keys() & after.keys()):
        was, now = before[iid], after[iid]
        if was == now:
            continue
        place = _changes({k: was[k] for k in _BLOCK_PLACE}, {k: now[k] for k in _BLOCK_PLACE})
        changed.append(
            {
                "id": iid,
                "name": now["name"],
                "fields": place,
                "values": _changes(was["values"], now["values"]),
                "holds": _changes(was["holds"], now["holds"]),
            }
        )
    refs_before, refs_after = old["references"], new["references"]
    return {
        "fields": fields,
        "blocks": {
            "added": [_block(iid, after[iid]) for iid in sorted(after.keys() - before.keys())],
            "removed": [_block(iid, before[iid]) for iid in sorted(before.keys() - after.keys())],
            "changed": changed,
        },
        "references": {
            "added": [{"id": iid, **refs_after[iid]} for iid in sorted(refs_after.keys() - refs_before.keys())],
            "removed": [{"id": iid, **refs_before[iid]} for iid in sorted(refs_before.keys() - refs_after.keys())],
        },
    }


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def summary(changes: dict[str, Any], *, first: bool) -> str:
    """One line for a list of versions: which fields moved, how many blocks and values changed."""
    if first:
        return f"created with {len(changes['blocks']['added'])} block(s)"
    parts = [f"{name}: {_text(change['old'])} → {_text(change['new'])}" for name, change in changes["fields"].items()]
    blocks, references = changes["blocks"], changes["references"]
    values = sum(len(block["values"]) for block in blocks["changed"])
    holds = sum(len(block["holds"]) + len(block["fields"]) for block in blocks["changed"])
    counted = (
        (len(blocks["added"]), "block(s) added"),
        (len(blocks["removed"]), "block(s) removed"),
        (values, "value(s) changed"),
        (holds, "block place(s) or held block(s) changed"),
        (len(references["added"]), "reference(s) added"),
        (len(references["removed"]), "reference(s) removed"),
    )
    parts += [f"{count} {what}" for count, what in counted if count]
    return "; ".join(parts) or "no visible change"
