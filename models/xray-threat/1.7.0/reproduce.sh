#!/usr/bin/env bash
# How models/xray-threat/1.7.0 was made (CPU only, 2 shared cores): 14 more epochs of class-balanced
# fine-tuning, of 1.6.0 (its committed weights.npz), in bf16 mixed precision (--precision bf16: the CPU has
# AMX-BF16; 2.3x faster steps, see vision/train/train.py's PRECISIONS). Run from the repository root with
# the test set-up's venv (.venv with the [train] extra) on PATH; the data are 1.4.0's (see its reproduce.sh
# for the synth commands), and 1.6.0 itself comes from its own reproduce.sh.
set -euo pipefail
D=runs/data
# Why: the network underfits (1.5.0 scored the same on its own training scans as on held-out ones), so more
# steps at the same recipe: one-cycle lr peaking at 1e-3 over 14 epochs, seed 8, run to the end
# (134-267 s an epoch on the shared machine); model_best.pt is epoch 13, the last and best by val AUROC +
# DR@5% (0.895 + 0.686; init 0.886 + 0.632).
nice -n 5 triage train --data $D/train,$D/train2,$D/train3 --val $D/val600 --out runs/xray-threat-1.7.0-bf16 --init models/xray-threat/1.6.0 --epochs 14 --seed 8 --crop-size 256 --batch-size 16 --lr 1e-3 --threads 2 --workers 1 --balance --precision bf16 --quiet
# Export, parity check, thresholds (shared and per kind) calibrated to 5% false alarms, evaluation.
triage export --checkpoint runs/xray-threat-1.7.0-bf16/model_best.pt --calibration $D/calibration2700 --test $D/test --test $D/test_heldout_eclipse160 --test $D/gate --name xray-threat --version 1.7.0 --out models --far 0.05 --recipe models/xray-threat/1.7.0/reproduce.sh
# Gate against the served model (1.6.0) on the gate set, then promote.
triage compare --candidate models/xray-threat/1.7.0 --baseline models/xray-threat/1.6.0 --data $D/gate --quiet
triage models promote xray-threat/1.7.0
