#!/usr/bin/env bash
# How models/xray-threat/1.5.0 was made (CPU only, 2 shared cores): a short plain fine-tune of 1.4.0 (its
# committed weights.npz) that gives firearms back their natural share. Run from the repository root with
# the test set-up's venv (.venv with the [train] extra) on PATH; the data are 1.4.0's (see its
# reproduce.sh for the synth commands), and 1.4.0 itself comes from its own reproduce.sh.
set -euo pipefail
D=runs/data
# Why: 1.4.0 (16 epochs of --balance) raised every class but firearms, which its gate caught (recall
# 0.741 -> 0.679): --balance weighs classes by their validation miss rate, and its ranking term was a
# weighted mean, so the best-found class got about half its unweighted share of that term for 16 epochs
# (its share of draws did not fall: 7.3% of scans, 8.1% of balanced draws; the ranking term is floored
# since). Three epochs without --balance at a third of the learning rate.
nice -n 5 triage train --data $D/train,$D/train2,$D/train3 --val $D/val600 --out runs/xray-threat-1.5.0 --init models/xray-threat/1.4.0 --epochs 3 --seed 5 --crop-size 256 --batch-size 16 --lr 3e-4 --threads 2 --workers 1 --quiet
# Export, parity check, thresholds (shared and per kind) calibrated to 5% false alarms, evaluation.
triage export --checkpoint runs/xray-threat-1.5.0/model_best.pt --calibration $D/calibration2700 --test $D/test --test $D/test_heldout_eclipse160 --test $D/gate --name xray-threat --version 1.5.0 --out models --far 0.05 --recipe models/xray-threat/1.5.0/reproduce.sh
# Gate against the served model (1.3.0) on the gate set, then promote.
triage compare --candidate models/xray-threat/1.5.0 --baseline models/xray-threat/1.3.0 --data $D/gate --quiet
triage models promote xray-threat/1.5.0
