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
from charfolio.catalog.audit import add_audit_parser
from charfolio.config_checks import checked_config, load_config
from charfolio.core.layout import REVIEW_PORT, Results, ratings_file, review_file
from charfolio.curate.thresholds import DEFAULT_PRESET, PRESETS
from charfolio.curate.tier_floors import default_tiers, methodology_floor
from charfolio.models.command import add_models_parser

Command = Callable[[argparse.Namespace], int]
_COMMANDS: dict[str, Command] = {}


def cmd_validate(args: argparse.Namespace) -> int:
    from charfolio.core.config import load_character

    config = load_config(args.config)
    for name in config["characters"]:
        load_character(Path(config["character_dir"]) / f"{name}.yaml")
        check_review_files(config["review_dir"], name)
    print(
        f"ok: {' + '.join(args.config)} and {len(config['characters'])} character file(s) are valid"
    )
    return 0


def check_review_files(review_dir: str, character: str) -> None:
    """The character's review files parse; its decisions name images its selection holds."""
    from charfolio.core.ratings import read_ratings
    from charfolio.curate.decisions import check_decisions, read_decisions
    from charfolio.curate.selection_io import read_rows

    path = review_file(review_dir, character)
    decisions = read_decisions(path)
    read_ratings(ratings_file(review_dir, character))
    selection = Path(Results().character(character).selection)
    if decisions and selection.is_file():
        try:
            rows = read_rows(selection, ["file", "sha256"], "select_images")
        except ValueError:  # a selection from before review files: the next run remakes it
            return
        check_decisions(decisions, {r["file"]: r["sha256"] for r in rows}, path)


def cmd_distribution(args: argparse.Namespace) -> int:
    from charfolio.generation.distribution import calculate_distribution, group_seeds

    dist_cfg = load_config(args.config)["distribution"] if args.config else {}
    dist = calculate_distribution(
        original_images=args.original or dist_cfg.get("original_images", 50),
        modified_images=args.modified
        if args.modified is not None
        else dist_cfg.get("modified_images", 600),
        batch_size=args.batch_size or dist_cfg.get("batch_size", 5),
        num_scenarios=args.scenarios,
        min_images_per_scenario=dist_cfg.get("min_images_per_scenario", 2),
        multi_batch_per_seed=args.multi_batch
        if args.multi_batch is not None
        else dist_cfg.get("multi_batch_per_seed", 0),
    )
    result = asdict(dist) | {
        "images_per_seed": dist.images_per_seed,
        "total_images": dist.total_images,
    }
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


def cmd_curate(args: argparse.Namespace) -> int:
    import re
    import subprocess

    import yaml

    from charfolio.core import workflow_files
    from charfolio.core.atomic import write_text_atomic
    from charfolio.core.config import CHARACTER_NAME, load_yaml, validate
    from charfolio.core.folder_listing import list_folder
    from charfolio.core.folder_lock import folder_lock

    # Everything is checked before anything is written: a bad name, folder or config
    # leaves --out as it was.
    if args.name is not None and not re.fullmatch(CHARACTER_NAME, args.name):
        print(f"charfolio curate: --name {args.name!r} is not a character name; use "
              f"{CHARACTER_NAME} (lowercase letters, digits, _), as it names "
              f"results/<name>/ and config/characters/<name>.yaml", file=sys.stderr)  # fmt: skip
        return 2
    folder = Path(args.folder).expanduser().resolve()
    try:
        entries = list_folder(folder).entries
    except OSError as error:  # missing, not a folder, or no permission to list it
        print(f"charfolio curate: {folder} cannot be listed: {error}; check the path and "
              "that you may read it", file=sys.stderr)  # fmt: skip
        return 2
    if not entries:
        print(f"charfolio curate: {folder} holds no images (hidden files and sidecars such as "
              ".txt are skipped); give the folder of the images", file=sys.stderr)  # fmt: skip
        return 2
    out = Path(args.out).expanduser().resolve()
    name = args.name or _safe_name(folder.name)
    characters = out / "config" / "characters"
    base_config = workflow_files.base_config()  # the workflow's own config is the base
    character = {
        "name": name,
        "token": args.token,
        "class_word": args.class_word,
        "base_prompt": f"images curated from {folder.name}",
        "base_seed": 0,
        "image_folder": str(folder),
    }
    validate(dict(character), "character", "charfolio curate's --token and --class-word")
    overrides = _curate_overrides(args, name, characters)
    config = checked_config(
        [load_yaml(base_config), overrides, *(load_yaml(path) for path in args.config)],
        " + ".join([str(base_config), "charfolio curate's options", *args.config]),
    )
    out.mkdir(parents=True, exist_ok=True)
    with folder_lock(out, "charfolio curate") as lock:
        curate_config = out / "config" / "curate.yaml"
        write_text_atomic(out / "config" / "config.yaml", base_config.read_text())
        write_text_atomic(characters / f"{name}.yaml", yaml.safe_dump(character, sort_keys=False))
        write_text_atomic(curate_config, yaml.safe_dump(overrides, sort_keys=False))
        configs = [str(curate_config), *args.config]
        if args.train and not _training_model_is_local(config, out, configs):
            return 2
        targets = ["curate_characters", *(["train_characters"] if args.train else [])]
        cmd = [
            str(Path(sys.executable).parent / "snakemake"), "-s", str(workflow_files.snakefile()),
            "-d", str(out), "--cores", str(args.cores), *(["-n"] if args.dry_run else []),
            *targets, "--configfile", *configs,
        ]  # fmt: skip
        print("running:", " ".join(cmd), flush=True)
        code = subprocess.call(cmd, pass_fds=(lock,))  # Snakemake holds --out too
    if code == 0 and not args.dry_run:
        made = "tiers, catalog, report.html, balance, captions" + (", LoRA" if args.train else "")
        print(f"done: {out / Results().character(name).root} ({made})")
        print(f"review it: cd {out} && charfolio review --config config/curate.yaml "
              f"--character {name}")  # fmt: skip
    return code


def _training_model_is_local(config: dict[str, Any], out: Path, configs: Sequence[str]) -> bool:
    """Whether the model --train trains on is on disk, where the jobs look (in --out);
    else say which key and file, and the command that fetches it."""
    import contextlib

    from charfolio.lora.base_model import require_base_model

    model, training = config["generation"]["model"], config["training"]
    with contextlib.chdir(out):
        try:
            require_base_model(model, training["backend"], config["model_cache"])
        except FileNotFoundError as error:
            fetch = " ".join(["charfolio models --config config/config.yaml",
                              *(f"--config {c}" for c in configs)])  # fmt: skip
            print(f"charfolio curate --train: {error}\nIn {out}, `{fetch}` fetches it "
                  f"(on a node with internet access).", file=sys.stderr)  # fmt: skip
            return False
    return True


def _curate_overrides(args: argparse.Namespace, name: str, characters: Path) -> dict[str, Any]:
    """What curate.yaml changes in the workflow's config for one folder of images."""
    overrides: dict[str, Any] = {
        "characters": [name],
        "character_dir": str(characters),
        "faces": {"backend": args.faces},
        "embeddings": {"backend": args.embedder},
        "curation": {"thresholds": {"preset": args.preset}},
        "captions": {"template": args.caption},  # a folder's images have no prompt
    }
    if args.tier:
        sizes = sorted(set(args.tier))
        overrides["curation"]["tiers"] = [
            {"size": n, "floor": methodology_floor(n) if args.floors else None} for n in sizes
        ]
        overrides["training"] = {"tiers": sizes}  # balanced, and trained on with --train
    return overrides


def _safe_name(text: str) -> str:
    import re

    name = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")
    return name if name and name[0].isalnum() else f"folder_{name}"


def cmd_calibrate(args: argparse.Namespace) -> int:
    from charfolio.quality.calibrate import calibrate

    detector = None
    if args.faces:
        from charfolio.faces.detector import create_face_detector

        detector = create_face_detector({"backend": args.faces}, args.model_cache)
    _, snippet = calibrate(
        args.folder, detector=detector, low=args.low, high=args.high, preset=args.preset,
        log=lambda m: print(m, file=sys.stderr), working_resolution=args.working_resolution,
    )  # fmt: skip
    print(snippet)
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    import getpass

    from charfolio.core import workflow_files
    from charfolio.review.serve import run_review

    config = load_config([str(workflow_files.base_config()), *args.config])
    reviewer = args.reviewer or getpass.getuser()
    return run_review(config, args.character, reviewer, args.host, args.port, not args.no_browser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="charfolio", description=__doc__)
    parser.add_argument("--version", action="version", version=f"charfolio {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="validate config files and their characters")
    p.add_argument(
        "config", nargs="+", help="config files, later ones override (like --configfile)"
    )
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

    p = sub.add_parser("curate", help="curate any folder of images with the workflow's rules")
    p.add_argument("folder", help="a folder of images; top-level subfolders count as seed groups")
    p.add_argument("--out", required=True, help="working folder: config/ and results/ go here")
    p.add_argument(
        "--tier",
        type=int,
        action="append",
        help="tier size to build (repeatable; default: curation.tiers); also the tiers --train "
        "trains on",
    )
    p.add_argument("--name", help="character name (default: from the folder name)")
    p.add_argument("--token", default="subject", help="caption trigger word")
    p.add_argument("--class-word", default="person")
    p.add_argument(
        "--caption",
        default="{token} {class_word}, {shot_type}",
        help="caption template of the template captioner (captions.template): fields {token}, "
        "{class_word}, {shot_type}; for a VLM set captions in a --config file",
    )
    p.add_argument("--faces", choices=["dlib", "insightface"], default="dlib")
    p.add_argument("--embedder", choices=["open_clip", "colour_layout"], default="colour_layout",
                   help="colour_layout works offline; open_clip needs its weights in model_cache")  # fmt: skip
    p.add_argument("--preset", choices=sorted(PRESETS), default=DEFAULT_PRESET)
    floors = {n: f for n, f in default_tiers().items() if f is not None}  # the schema's
    p.add_argument("--floors", action="store_true",
                   help=f"apply the methodology's tier score floors "
                   f"({'/'.join(map(str, floors.values()))} for {'/'.join(map(str, floors))}; "
                   f"other sizes take the next larger tier's)")  # fmt: skip
    p.add_argument("--train", action="store_true",
                   help="also train a LoRA on the tiers (training.tiers, or --tier) with "
                   "training.presets; needs generation.model locally (`charfolio models`)")  # fmt: skip
    p.add_argument("-n", "--dry-run", action="store_true",
                   help="show the jobs Snakemake would run, run none")  # fmt: skip
    p.add_argument("--config", action="append", default=[], help="extra config files (override)")
    p.add_argument("--cores", default="all")
    p.set_defaults(func=cmd_curate)

    p = sub.add_parser("calibrate", help="thresholds from a folder of known-good images")
    p.add_argument("folder")
    p.add_argument(
        "--faces",
        choices=["dlib", "insightface"],
        help="also calibrate the face gates (confidence, sharpness, exposure, size)",
    )
    p.add_argument(
        "--working-resolution",
        type=int,
        default=768,
        help="measure as quality.working_resolution does (default 768)",
    )
    p.add_argument("--low", type=int, default=25, help="percentile for minimums (default 25)")
    p.add_argument("--high", type=int, default=75, help="percentile for 'good' (default 75)")
    p.add_argument("--preset", choices=sorted(PRESETS), default=DEFAULT_PRESET)
    p.add_argument("--model-cache", default="models")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("review", help="a local web page to accept, reject and star images")
    p.add_argument("--config", action="extend", nargs="+", default=[],
                   help="config files over the workflow's config/config.yaml, as given to "
                   "snakemake (its review_dir and characters), e.g. config/demo.yaml")  # fmt: skip
    p.add_argument("--character", required=True, help="the character to review")
    p.add_argument("--port", type=int, default=REVIEW_PORT,
                   help=f"default {REVIEW_PORT}; 0 picks a free port")  # fmt: skip
    p.add_argument("--host", default="127.0.0.1",
                   help="default 127.0.0.1 (this machine only); use an SSH tunnel rather than "
                   "another address")  # fmt: skip
    p.add_argument("--reviewer", help="name recorded with each decision (default: login name)")
    p.add_argument("--no-browser", action="store_true", help="print the URL, open no browser")
    p.set_defaults(func=cmd_review)

    add_audit_parser(sub)
    add_models_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from charfolio.core.config import ConfigError, ModelFileError
    from charfolio.core.folder_lock import FolderBusyError
    from charfolio.core.keyed_csv import CsvFileError
    from charfolio.core.offline import force_offline

    if args.command != "models":  # only `charfolio models` may reach a model hub
        force_offline()

    try:
        return int(args.func(args))
    except (ConfigError, ModelFileError, FileNotFoundError, FolderBusyError, CsvFileError) as error:
        print(f"charfolio {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
