"""``synth``, ``train`` and ``evaluate``: the model's data, training and scoring. The work is in
vam_gui.model.cli_commands; this module only declares the arguments."""

from __future__ import annotations

from vam_gui.cli.common import run_model_command


def add_synth(sub) -> None:
    p = sub.add_parser("synth", help="write synthetic spine phantoms with exact labels",
                       description="Procedural spine radiograph phantoms with exact corner labels: images "
                                   "(PNG, or DICOM with pixel spacing, some MONOCHROME1) plus labels.json, "
                                   "optionally a study and a training dataset. Deterministic by seed.")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--n", type=int, required=True, help="number of phantoms")
    p.add_argument("--schema", default="lumbar-ap-20")
    p.add_argument("--seed", type=int, default=0, help="phantom i uses seed + i")
    p.add_argument("--dicom", action="store_true", help="write DICOM instead of PNG")
    p.add_argument("--difficulty", type=float, default=1.0,
                   help="0 = clean and upright, 1 = full variation, 2 = also surgical hardware, rulers, "
                        "text, curves to 60 degrees")
    p.add_argument("--study", action="store_true", help="also write a study with the labels imported")
    p.add_argument("--dataset-size", type=int, help="also write a training dataset at this S (multiple of 32)")
    p.add_argument("--no-images", action="store_true", help="only the dataset (no image files, no labels.json)")
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=run_model_command("cmd_synth"))


def add_train(sub) -> None:
    p = sub.add_parser("train", help="train or fine-tune the network on a dataset",
                       description="Train (or fine-tune with --init) on an exported dataset, a synth folder, "
                                   "or a folder with labels.json. Writes last/best checkpoints, metrics.csv, "
                                   "metrics.png. For several GPUs: torchrun --nproc-per-node N -m vam_gui train ...")
    p.add_argument("dataset")
    p.add_argument("--out", required=True, help="run folder (checkpoints, metrics)")
    p.add_argument("--epochs", type=int, help="default 30; with --max-minutes: as many as the time allows")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--size", help="model input S or HxW, multiples of 32, e.g. 256 or 384x160 for full-length "
                                  "films (default: a dataset's S, 256 for a folder with labels.json, or --init's size)")
    p.add_argument("--store-size", type=int, default=1024,
                   help="S of the stored images when a folder with labels.json is converted (default 1024: "
                        "crops for the second pass need the resolution)")
    p.add_argument("--augment-strength", type=float, default=1.0,
                   help="appearance augmentation: 0 off, 1 default, 2 strong (gamma, contrast, blur, noise, "
                        "CLAHE, exposure gradients, collimation, burned-in text and markers)")
    p.add_argument("--crop-share", type=float, default=0.65,
                   help="share of training samples cut around a run of vertebrae (what the second pass sees)")
    p.add_argument("--pretrained", help="a local torchvision weights file for the backbone (new runs)")
    p.add_argument("--backbone", choices=["efficientnet_v2_s", "mobilenet_v3_large"])
    p.add_argument("--d-model", type=int)
    p.add_argument("--bridge-layers", type=int)
    p.add_argument("--vam-layers", type=int)
    p.add_argument("--decoder-channels", help="four widths, e.g. 256,128,64,32")
    p.add_argument("--init", help="fine-tune from this checkpoint")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--device", default="auto")
    p.add_argument("--workers", type=int, default=0, help="data loader processes")
    p.add_argument("--threads", type=int, help="CPU threads for torch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--max-steps", type=int)
    p.add_argument("--max-minutes", type=float,
                   help="stop after this many minutes; the learning rate anneals to zero at the deadline")
    p.add_argument("--half", action="store_true", help="store float16 weights (half the size)")
    p.add_argument("--provenance", help="a JSON file (an object: study, images, reviewers, ...) recorded as "
                                        "training.provenance in the run's last and best checkpoints")
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=run_model_command("cmd_train"))


def add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="landmark errors of a checkpoint (px, %% of height, vertebral heights, mm)",
                       description="Run the full predictor (both passes) on the images of a folder with "
                                   "labels.json, a study (its accepted images) or a dataset folder, and report "
                                   "mean and median error in original px, %% of image height, vertebral heights "
                                   "and mm (when every image has a spacing), SDR, per-vertebra errors and the "
                                   "number of level-shifted images (prediction one vertebra off the truth).")
    p.add_argument("dataset", help="a folder with labels.json, a .vamstudy or a dataset folder")
    p.add_argument("--checkpoint", "-c", required=True)
    p.add_argument("--schema", help="evaluate only this subset schema's points (e.g. lumbar-ap-20)")
    p.add_argument("--sdr", help="SDR thresholds with units px, mm, %%h or vh, e.g. 2,4mm or 0.5,1%%h")
    p.add_argument("--no-refine", action="store_true", help="one pass on the whole film (no crop pass)")
    p.add_argument("--all", action="store_true", help="a study: every labelled image, not only accepted ones")
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=run_model_command("cmd_evaluate"))
