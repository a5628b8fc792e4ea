#!/usr/bin/env bash
# How models/xray-threat/1.2.0 was made (CPU only, 2 shared cores): a fine-tune of 1.1.0 (its committed
# weights.npz) on 7500 simulated scans. Run from the repository root with the test set-up's venv (.venv
# with the [train] extra) on PATH.
set -euo pipefail
D=runs/data
# Simulated data, each set from its own base seed (scan i of base seed S uses SeedSequence([S, i])).
# train and val are 1.1.0's (same seeds, same scans); train2 and train3 add scans of unused seeds. The
# calibration set is 1.1.0's extended to 2700 scans (its first 450 are the same), enough clean scans per
# scene kind (>= 300) for a threshold per kind. test and the held-out scanner set are 1.1.0's; gate is a
# new 1080-scan set of an unused seed (3x the test set, so one class's recall moves less per scan).
nice -n 5 triage synth --kind all --count 3000 --seed 10000 --out $D/train --workers 2 --quiet
nice -n 5 triage synth --kind all --count 1500 --seed 60000 --out $D/train2 --workers 2 --quiet
nice -n 5 triage synth --kind all --count 3000 --seed 70000 --out $D/train3 --workers 2 --quiet
nice -n 5 triage synth --kind all --count 200 --seed 20000 --out $D/val --workers 2 --quiet
nice -n 5 triage synth --kind all --count 2700 --seed 30000 --out $D/calibration2700 --workers 2 --quiet
nice -n 5 triage synth --kind all --count 360 --seed 40000 --out $D/test --workers 2 --quiet
nice -n 5 triage synth --kind all --count 240 --seed 50000 --profile eclipse160 --out $D/test_heldout_eclipse160 --workers 2 --quiet
nice -n 5 triage synth --kind all --count 1080 --seed 80000 --out $D/gate --workers 2 --quiet
# Fine-tune from 1.1.0: 16 epochs over all 7500 training scans, one-cycle lr peaking at 1e-3.
nice -n 5 triage train --data $D/train,$D/train2,$D/train3 --val $D/val --out runs/xray-threat-1.2.0b --init models/xray-threat/1.1.0 --epochs 16 --seed 1 --crop-size 256 --batch-size 16 --lr 1e-3 --threads 2 --workers 1 --quiet
# Export, parity check, thresholds (shared and per kind) calibrated to 5% false alarms, evaluation.
triage export --checkpoint runs/xray-threat-1.2.0b/model_best.pt --calibration $D/calibration2700 --test $D/test --test $D/test_heldout_eclipse160 --test $D/gate --name xray-threat --version 1.2.0 --out models --far 0.05 --recipe models/xray-threat/1.2.0/reproduce.sh
# INT8 version, kept only if faster and within 0.5 AUROC points.
triage quantize --model models/xray-threat/1.2.0 --calibration $D/calibration2700 --test $D/gate --quiet || echo "INT8 version not kept"
# Gate against the served model (1.1.0) on the gate set. It FAILED (organic classes lost recall while
# firearms gained; see gate.json), so 1.2.0 was not promoted: 1.1.0 stays served. An admin may still
# promote it with `triage models promote xray-threat/1.2.0 --force --reason "..."`.
triage compare --candidate models/xray-threat/1.2.0 --baseline models/xray-threat/1.1.0 --data $D/gate --quiet || echo "gate failed: not promoted"
