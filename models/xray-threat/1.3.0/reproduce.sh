#!/usr/bin/env bash
# How models/xray-threat/1.3.0 was made (CPU only, 2 shared cores): a class-balanced fine-tune of 1.2.0 (its
# committed weights.npz) on the same 7500 simulated scans. Run from the repository root with the test
# set-up's venv (.venv with the [train] extra) on PATH.
set -euo pipefail
D=runs/data
# Simulated data, each set from its own base seed (scan i of base seed S uses SeedSequence([S, i])).
# Training, calibration, test, held-out scanner and gate sets are 1.2.0's (same seeds, same scans). The
# validation set is new and 3x larger (600 scans, seed 90000): 1.2.0's 200 were too few to pick a
# checkpoint or to tell each class's hit rate, which --balance now reads every epoch.
nice -n 5 triage synth --kind all --count 3000 --seed 10000 --out $D/train --workers 2 --quiet
nice -n 5 triage synth --kind all --count 1500 --seed 60000 --out $D/train2 --workers 2 --quiet
nice -n 5 triage synth --kind all --count 3000 --seed 70000 --out $D/train3 --workers 2 --quiet
nice -n 5 triage synth --kind all --count 600 --seed 90000 --out $D/val600 --workers 2 --quiet
nice -n 5 triage synth --kind all --count 2700 --seed 30000 --out $D/calibration2700 --workers 2 --quiet
nice -n 5 triage synth --kind all --count 360 --seed 40000 --out $D/test --workers 2 --quiet
nice -n 5 triage synth --kind all --count 240 --seed 50000 --profile eclipse160 --out $D/test_heldout_eclipse160 --workers 2 --quiet
nice -n 5 triage synth --kind all --count 1080 --seed 80000 --out $D/gate --workers 2 --quiet
# Fine-tune from 1.2.0 with --balance: scans of classes the last validation missed (and of rare classes)
# drawn more often, crops centred on a class drawn uniformly, every class in a crop ranked, missed classes
# weighing more in that ranking. One-cycle lr peaking at 1e-3 over 15 epochs, BUT the run was stopped
# after epoch 10 (of 0-14) for lack of time in the session (epochs took 240-450 s on the shared machine);
# model_best.pt is epoch 10, the best of epochs 0-10 by val AUROC + DR@5% (0.835 + 0.559). To reproduce
# exactly, stop the run once log.jsonl holds epoch 10 (the data order, augmentation and sampling depend
# only on seed and epoch); a full 15-epoch run may pick a later, different checkpoint.
nice -n 5 triage train --data $D/train,$D/train2,$D/train3 --val $D/val600 --out runs/xray-threat-1.3.0 --init models/xray-threat/1.2.0 --epochs 15 --seed 3 --crop-size 256 --batch-size 16 --lr 1e-3 --threads 2 --workers 1 --balance --quiet
# Export, parity check, thresholds (shared and per kind) calibrated to 5% false alarms, evaluation.
triage export --checkpoint runs/xray-threat-1.3.0/model_best.pt --calibration $D/calibration2700 --test $D/test --test $D/test_heldout_eclipse160 --test $D/gate --name xray-threat --version 1.3.0 --out models --far 0.05 --recipe models/xray-threat/1.3.0/reproduce.sh
# No INT8 version was tried: the architecture is 1.2.0's, whose INT8 measured 1.09x (under the 1.10x bar).
# Gate against the served model (1.1.0) on the gate set (it PASSED: gate.json), then promote.
triage compare --candidate models/xray-threat/1.3.0 --baseline models/xray-threat/1.1.0 --data $D/gate --quiet
triage models promote xray-threat/1.3.0
