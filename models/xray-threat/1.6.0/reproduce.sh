#!/usr/bin/env bash
# How models/xray-threat/1.6.0 was made (CPU only, 2 shared cores): 12 epochs of class-balanced fine-tuning
# of 1.5.0 (its committed weights.npz) with the floored ranking term (b70aaff), on 1.4.0's data. Run from the
# repository root with the test set-up's venv (.venv with the [train] extra) on PATH; the data are 1.4.0's
# (see its reproduce.sh for the synth commands), and 1.5.0 itself comes from its own reproduce.sh.
set -euo pipefail
D=runs/data
# Why: --balance raised every class but firearms in 1.4.0 because its ranking term gave the best-found class
# about half its unweighted share; the term is floored since (no class below its unweighted pull), so a
# balanced run no longer needs 1.5.0's plain repair epochs. One-cycle lr peaking at 1e-3 over 12 epochs,
# run to the end (173-224 s an epoch); model_best.pt is epoch 8, the best by val AUROC + DR@5% (0.886 +
# 0.632; init 0.884 + 0.609). A bf16 twin of this run (--precision bf16, same seed) tracked it within noise
# at ~0.65x the epoch time; its best epoch failed the gate on gemstones (9 -> 8 of 28) and was not shipped.
nice -n 5 triage train --data $D/train,$D/train2,$D/train3 --val $D/val600 --out runs/xray-threat-1.6.0 --init models/xray-threat/1.5.0 --epochs 12 --seed 7 --crop-size 256 --batch-size 16 --lr 1e-3 --threads 2 --workers 1 --balance --quiet
# Export, parity check, thresholds (shared and per kind) calibrated to 5% false alarms, evaluation.
triage export --checkpoint runs/xray-threat-1.6.0/model_best.pt --calibration $D/calibration2700 --test $D/test --test $D/test_heldout_eclipse160 --test $D/gate --name xray-threat --version 1.6.0 --out models --far 0.05 --recipe models/xray-threat/1.6.0/reproduce.sh
# Gate against the served model (1.5.0) on the gate set, then promote.
triage compare --candidate models/xray-threat/1.6.0 --baseline models/xray-threat/1.5.0 --data $D/gate --quiet
triage models promote xray-threat/1.6.0
