#!/usr/bin/env bash
# How models/xray-threat/1.10.0 was made (CPU only, 2 shared cores): 22 more epochs of class-balanced
# fine-tuning of 1.9.0 (its committed weights.npz) in bf16 mixed precision. Run from the repository root
# with the test set-up's venv (.venv with the [train] extra) on PATH; the data are 1.4.0's (see its
# reproduce.sh for the synth commands) plus calibration_clean3000 (see 1.9.0's reproduce.sh), and 1.9.0
# itself comes from its own reproduce.sh. Trained at commit c2a252e.
set -euo pipefail
D=runs/data
# Why: 28 epochs at lr 1e-3 after 1.8.0 paid (+0.014 gate AUROC, knives +0.09); the same again, shorter to
# fit the session: one-cycle lr peaking at 1e-3 over 22 epochs, a new seed (13), run to the end.
nice -n 5 triage train --data $D/train,$D/train2,$D/train3 --val $D/val600 --out runs/xray-threat-1.10.0-bf16 --init models/xray-threat/1.9.0 --epochs 22 --seed 13 --crop-size 256 --batch-size 16 --lr 1e-3 --threads 2 --workers 1 --balance --precision bf16 --quiet
# Export, parity check, thresholds (shared and per kind) calibrated to 5% false alarms, evaluation.
triage export --checkpoint runs/xray-threat-1.10.0-bf16/model_best.pt --calibration $D/calibration2700,$D/calibration_clean3000 --test $D/test --test $D/test_heldout_eclipse160 --test $D/gate --name xray-threat --version 1.10.0 --out models --far 0.05 --recipe models/xray-threat/1.10.0/reproduce.sh
# model_best.pt is epoch 18, the best by val AUROC + DR@5% (0.917 + 0.763; init 0.908 + 0.742, last epoch
# 0.915 + 0.759).
# Gate against the served model (1.9.0) on the gate set, then promote. It passes by the margin alone (no
# --alpha): AUROC 0.905 -> 0.918, the recall of all 922 instances 0.588 -> 0.622 (53 gained, 22 lost), no
# class falls (cigarettes 0.315 -> 0.472, blade 0.314 -> 0.352, gemstones +0.071, ammunition +0.050).
triage compare --candidate models/xray-threat/1.10.0 --baseline models/xray-threat/1.9.0 --data $D/gate --quiet
triage models promote xray-threat/1.10.0
