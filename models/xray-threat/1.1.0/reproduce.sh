#!/usr/bin/env bash
# How models/xray-threat/1.1.0 was made (CPU only, 2 cores). Run from the repository root with the
# test set-up's venv (.venv with the [train] extra) on PATH.
set -euo pipefail
D=runs/data
# Simulated data, each set from its own base seed (scan i of base seed S uses SeedSequence([S, i])).
# Training and validation over the training scanner profiles; calibration and test from unused seeds;
# a second test set from the held-out scanner profile eclipse160, never seen in training.
nice -n 5 triage synth --kind all --count 3000 --seed 10000 --out $D/train --workers 2 --quiet
nice -n 5 triage synth --kind all --count 200 --seed 20000 --out $D/val --workers 2 --quiet
nice -n 5 triage synth --kind all --count 450 --seed 30000 --out $D/calibration --workers 2 --quiet
nice -n 5 triage synth --kind all --count 360 --seed 40000 --out $D/test --workers 2 --quiet
nice -n 5 triage synth --kind all --count 240 --seed 50000 --profile eclipse160 --out $D/test_heldout_eclipse160 --workers 2 --quiet
# Training from scratch: 256 px crops of the 512 px letterboxed input, batch 16, one-cycle lr 2e-3.
nice -n 5 triage train --data $D/train --val $D/val --out runs/xray-threat-1.1.0 --epochs 40 --seed 0 --crop-size 256 --batch-size 16 --lr 2e-3 --threads 2 --workers 1 --quiet
# Export, parity check, threshold calibrated to 5% false alarms on the calibration set, held-out evaluation.
triage export --checkpoint runs/xray-threat-1.1.0/model_best.pt --calibration $D/calibration --test $D/test --test $D/test_heldout_eclipse160 --name xray-threat --version 1.1.0 --out models --far 0.05 --recipe models/xray-threat/1.1.0/reproduce.sh
# Gate against the model served before (1.0.0) on the test set, then promote (refused without a pass).
triage compare --candidate models/xray-threat/1.1.0 --baseline models/xray-threat/1.0.0 --data $D/test --quiet
triage models promote xray-threat/1.1.0
