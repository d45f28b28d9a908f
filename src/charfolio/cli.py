"""The `charfolio` command: helpers around the Snakemake workflow (which does the real runs)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from charfolio import __version__

Command = Callable[[argparse.Namespace], int]
_COMMANDS: dict[str, Command] = {}


def _load_config(paths: Sequence[str]) -> dict[str, Any]:
    """Merge config files like Snakemake does (later files override), then validate."""
    from charfolio.config import load_yaml, validate

    merged: dict[str, Any] = {}
    for path in paths:
        _deep_update(merged, load_yaml(path))
    return validate(merged, "config", " + ".join(paths))


def _deep_update(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_update(base[key], value)
        else:
            base[key] = value


def cmd_validate(args: argparse.Namespace) -> int:
    from charfolio.config import load_character

    config = _load_config(args.config)
    for name in config["characters"]:
        load_character(Path(config["character_dir"]) / f"{name}.yaml")
    print(f"ok: {' + '.join(args.config)} and {len(config['characters'])} character file(s) are valid")
    return 0


def cmd_distribution(args: argparse.Namespace) -> int:
    from charfolio.distribution import calculate_distribution, group_seeds

    dist_cfg = _load_config(args.config)["distribution"] if args.config else {}
    dist = calculate_distribution(
        original_images=args.original or dist_cfg.get("original_images", 50),
        modified_images=args.modified if args.modified is not None else dist_cfg.get("modified_images", 600),
        batch_size=args.batch_size or dist_cfg.get("batch_size", 5),
        num_scenarios=args.scenarios,
        min_images_per_scenario=dist_cfg.get("min_images_per_scenario", 2),
        multi_batch_per_seed=args.multi_batch if args.multi_batch is not None else dist_cfg.get("multi_batch_per_seed", 0),
    )
    result = asdict(dist) | {"images_per_seed": dist.images_per_seed, "total_images": dist.total_images}
    if args.base_seed is not None:
        result["seeds"] = group_seeds(args.base_seed, dist)
    print(json.dumps(result, indent=2))
    return 0


def cmd_regenerate(args: argparse.Namespace) -> int:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from charfolio.generation.regenerate import regenerate_image

    table = pq.read_table(args.table)
    match = table.filter(pc.match_substring(table["file"], args.file)).to_pylist()
    if len(match) != 1:
        print(f"{args.table}: {len(match)} rows match {args.file!r}; give a unique part of the file name",
              file=sys.stderr)  # fmt: skip
        return 2
    image = regenerate_image(match[0], model_cache=args.model_cache)
    image.save(args.out)
    print(f"wrote {args.out} from {match[0]['file']} (generator seed {match[0]['generator_seed']})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="charfolio", description=__doc__)
    parser.add_argument("--version", action="version", version=f"charfolio {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="validate config files and their characters")
    p.add_argument("config", nargs="+", help="config files, later ones override (like --configfile)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("distribution", help="the seed distribution calculator")
    p.add_argument("--config", nargs="*", default=[], help="read defaults from these config files")
    p.add_argument("--original", type=int)
    p.add_argument("--modified", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--scenarios", type=int, default=60)
    p.add_argument("--multi-batch", type=int)
    p.add_argument("--base-seed", type=int)
    p.set_defaults(func=cmd_distribution)

    p = sub.add_parser("regenerate", help="regenerate one image from its shard-table row alone")
    p.add_argument("table", help="an images/seed_{seed}.parquet table")
    p.add_argument("file", help="the image's file name (or a unique part of it)")
    p.add_argument("--out", required=True, help="where to write the PNG")
    p.add_argument("--model-cache", default="models")
    p.set_defaults(func=cmd_regenerate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from charfolio.config import ConfigError, ModelFileError

    try:
        return int(args.func(args))
    except (ConfigError, ModelFileError, FileNotFoundError) as error:
        print(f"charfolio {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
