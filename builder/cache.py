"""The figure cache: entries on disk, and how they are checked (what goes into a key: builder.keys).

Layout: cache/<figure>/<key[:16]>/{manifest.json, log.txt, out/<outputs>}. An entry is
written in cache/.tmp/ and renamed into place, so it exists whole or not at all. An entry
whose files do not match the sha256 in its manifest, or whose manifest was edited (its key is
no longer the digest of what it records), is corrupt: reported, discarded and recomputed. A
directory without a readable manifest is a miss; the entry computed for its key replaces it.
JSON only, no pickle.

There is a catch, as ccache says of its own direct mode: the files a figure reads are only
known after its first run, so an entry matches when its static part matches *and* every
file it recorded still hashes the same. A read that depends on data outside the project
(the network, /tmp) is not seen.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .files import write_json
from .keys import FORMAT, Inputs, digest_json, entry_key, file_digest, make_key, sha256_file

MANIFEST = "manifest.json"


# -- entries ----------------------------------------------------------------------------
@dataclass
class Entry:
    path: Path
    manifest: dict

    @property
    def key(self) -> str:
        return self.manifest["key"]

    def output(self, name: str) -> Path:
        return self.path / "out" / name

    def corrupt_files(self) -> list[str]:
        """What does not match the manifest: outputs missing, altered or undeclared."""
        bad = []
        for name, digest in self.manifest["outputs"].items():
            p = self.output(name)
            if not p.is_file():
                bad.append(f"{name} is missing")
            elif sha256_file(p) != digest:
                bad.append(f"{name} does not match the manifest")
        try:
            extra = sorted(set(os.listdir(self.path / "out")) - set(self.manifest["outputs"]))
        except OSError:
            extra = []
        bad += [f"{name} is not in the manifest" for name in extra]
        return bad


def manifest_problem(path: Path, manifest: dict) -> str | None:
    """Why a readable manifest cannot be trusted (it was edited), or None. Its key must be the
    digest of what it records, its directory must be named after that key, and it must list
    the hash of every output the figure declared."""
    try:
        if digest_json(manifest["static"]) != manifest["static_digest"]:
            return "manifest.json was edited (its inputs do not match their digest)"
        if make_key(manifest["static_digest"], manifest["packages"], manifest["reads"]) != manifest["key"]:
            return "manifest.json was edited (its inputs do not match its key)"
        if path.name != manifest["key"][:16]:
            return f"manifest.json belongs to entry {manifest['key'][:16]}"
        if sorted(manifest["outputs"]) != sorted(manifest["static"]["outputs"]):
            return "manifest.json does not list every declared output"
    except (KeyError, TypeError, AttributeError):
        return "manifest.json lacks a field"
    return None


@dataclass
class Lookup:
    """The state of one figure: fresh (an entry matches), stale, missing or corrupt."""

    state: str
    entry: Entry | None = None
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    last_wall_time: float | None = None


class Cache:
    def __init__(self, root: Path):
        self.root = root
        self.dir = root / "cache"
        self.tmp = self.dir / ".tmp"

    def entries(self, figure: str) -> list[Entry]:
        """Entries of a figure, newest first; unreadable manifests are skipped (they are misses)."""
        return self.scan(figure)[0]

    def scan(self, figure: str) -> tuple[list[Entry], list[tuple[Path, str]]]:
        """(entries, [(directory, why it is not one)]): an entry directory whose manifest is
        missing or unreadable is not an entry; one whose manifest was edited is, and is corrupt."""
        found, unreadable = [], []
        fig_dir = self.dir / figure
        if not fig_dir.is_dir():
            return found, unreadable
        for d in fig_dir.iterdir():
            try:
                manifest = json.loads((d / MANIFEST).read_text(encoding="utf-8"))
                if not (isinstance(manifest, dict) and isinstance(manifest.get("key"), str)
                        and isinstance(manifest.get("static_digest"), str) and isinstance(manifest.get("outputs"), dict)
                        and isinstance(manifest.get("date", ""), str)):
                    raise ValueError("not a manifest")
            except FileNotFoundError:
                unreadable.append((d, "manifest.json is missing"))
                continue
            except (OSError, ValueError, RecursionError):  # not JSON, nested too deep, not UTF-8, wrong shape
                unreadable.append((d, "manifest.json is unreadable"))
                continue
            found.append(Entry(d, manifest))
        found.sort(key=lambda e: str(e.manifest.get("date") or ""), reverse=True)
        return found, unreadable

    def lookup(self, spec, profile: str, inputs: Inputs, frozen: bool = False) -> Lookup:
        entries, unreadable = self.scan(spec.name)
        edited = [(e, why) for e in entries if (why := manifest_problem(e.path, e.manifest))]
        entries = [e for e in entries if all(e is not x for x, _ in edited)]
        if not entries:
            if edited:
                entry, why = edited[0]
                return Lookup("corrupt", entry=entry, reasons=[f"entry {entry.path.name} is corrupt: {why}"])
            if unreadable:
                return Lookup("missing", reasons=[f"entry {d.name} is not usable: {why}" for d, why in unreadable])
            return Lookup("missing", reasons=["never computed"])
        digest = inputs.static_digest
        drift = None
        for entry in entries:
            m = entry.manifest
            if m["static_digest"] != digest:
                continue
            if any(file_digest(self.root / rel) != d for rel, d in _mapping(m.get("reads")).items()):
                continue
            if m.get("packages") != inputs.packages:
                drift = drift or entry
                continue
            return self._checked(entry)
        wall = entries[0].manifest.get("wall_time_s")
        if drift is not None:
            changes = _dict_changes("package", drift.manifest.get("packages", {}), inputs.packages)
            if frozen:
                found = self._checked(drift)
                found.warnings += [f"built with other package versions: {c}" for c in changes]
                return found
            return Lookup("stale", reasons=changes, last_wall_time=wall)
        if edited:  # it may have been the matching entry: say so, and let the build replace it
            entry, why = edited[0]
            return Lookup("corrupt", entry=entry, reasons=[f"entry {entry.path.name} is corrupt: {why}"],
                          last_wall_time=wall)
        same_profile = [e for e in entries if e.manifest.get("profile") == profile] or entries
        return Lookup("stale", reasons=self.explain(same_profile[0], inputs), last_wall_time=wall)

    def _checked(self, entry: Entry) -> Lookup:
        bad = entry.corrupt_files()
        if bad:
            return Lookup("corrupt", entry=entry, reasons=[f"entry {entry.path.name} is corrupt: {', '.join(bad)}"])
        return Lookup("fresh", entry=entry, last_wall_time=entry.manifest.get("wall_time_s"))

    def explain(self, entry: Entry, inputs: Inputs) -> list[str]:
        """Which inputs differ between an old entry and the current ones, in words."""
        old, new = entry.manifest.get("static", {}), inputs.static
        script = entry.manifest.get("script", "the script")
        reasons = []
        if old.get("code") != new["code"]:
            reasons.append(f"{script} changed")
        reasons += _dict_changes("module", old.get("modules", {}), new["modules"], values=False)
        reasons += _dict_changes("param", old.get("params", {}), new["params"])
        if old.get("seed") != new["seed"]:
            reasons.append(f"seed: {old.get('seed')} → {new['seed']}")
        if old.get("outputs") != new["outputs"]:
            reasons.append("declared outputs changed")
        reasons += _dict_changes("upstream", old.get("upstream", {}), new["upstream"], values=False)
        if "runtime" in old:
            reasons += _dict_changes("ces module", old["runtime"], new["runtime"], values=False)
        for rel, d in _mapping(entry.manifest.get("reads")).items():
            if rel not in new["modules"] and rel not in old.get("modules", {}) and file_digest(self.root / rel) != d:
                reasons.append(f"data file {rel} changed" if d else f"data file {rel} appeared")
        reasons += _dict_changes("package", entry.manifest.get("packages", {}), inputs.packages)
        if old.get("format") != new["format"]:
            reasons.append("cache format changed")
        return reasons or ["inputs changed"]

    # -- writing ----------------------------------------------------------------------
    def staging(self, figure: str) -> Path:
        """A fresh private directory to run a figure in (same filesystem as the cache)."""
        path = self.tmp / f"{figure}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        (path / "out").mkdir(parents=True)
        return path

    def commit(self, staging: Path, spec, profile: str, inputs: Inputs, record: dict) -> Entry:
        """Hash the outputs, write the manifest, and rename the staging directory into place."""
        reads = record.get("reads", {})
        key = entry_key(inputs, reads)
        manifest = {
            "key": key,
            "figure": spec.name,
            "script": spec.path.relative_to(self.root).as_posix(),
            "profile": profile,
            "params": spec.params(profile),
            "static_digest": inputs.static_digest,
            "static": inputs.static,
            "packages": inputs.packages,
            "reads": reads,
            "outputs": record.get("output_digests") or {name: sha256_file(staging / "out" / name)
                                                        for name in sorted(spec.outputs)},
            "wall_time_s": round(record.get("wall_time_s", 0.0), 3),
            "device": record.get("device", "cpu"),
            "write_guard": record.get("write_guard"),   # what kept the project read-only, or None
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "python": sys.version.split()[0],
            "ces_format": FORMAT,
        }
        write_json(staging / MANIFEST, manifest)
        final = self.dir / spec.name / key[:16]
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            # Under the build lock, a directory with this key that the lookup did not take is
            # damaged (no readable manifest, an edited one, altered outputs): replace it.
            self.discard(Entry(final, {}))
        os.rename(staging, final)  # the commit point: atomic on one filesystem
        return Entry(final, manifest)

    def discard(self, entry: Entry) -> None:
        """Remove an entry (corrupt or unused): rename it out of the way first, then delete."""
        self.tmp.mkdir(parents=True, exist_ok=True)
        trash = self.tmp / f"trash-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(entry.path, trash)
        except FileNotFoundError:
            return
        shutil.rmtree(trash, ignore_errors=True)


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def _dict_changes(what: str, old: dict, new: dict, values: bool = True) -> list[str]:
    out = []
    for k in sorted(set(old) | set(new)):
        if k not in old:
            out.append(f"{what} {k} added" + (f" ({new[k]})" if values else ""))
        elif k not in new:
            out.append(f"{what} {k} removed")
        elif old[k] != new[k]:
            out.append(f"{what} {k}: {old[k]} → {new[k]}" if values else f"{what} {k} changed")
    return out
