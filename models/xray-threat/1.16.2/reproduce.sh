#!/usr/bin/env bash
# How models/xray-threat/1.16.2 was made: 1.16.1 (the network of 1.16.0, the same checkpoint, so steps 1-4
# are 1.16.0's; its threshold calibrated on the real clean validation bags in four views) exported again,
# with a static INT8 graph beside it (step 5b, `triage quantize --real`): 2.2x faster than the FP32 graph
# measured side by side, judged on the real validation files first. Its FP32 graph, thresholds and real
# figures are 1.16.1's; serve the INT8 graph with TRIAGE_INT8=true (`triage scan --int8`). The INT8 graph
# localised OPIXray knives 0.614 against FP32's 0.625 and SIXray threats 0.786 against 0.770, each
# averaged over its own thresholds for 2-10% false alarms on the real clean bags in four views (at the
# single threshold of each: 0.595 against 0.625, and 0.771 against 0.771). See the README, "Weak hardware".
#
# How models/xray-threat/1.16.1 was made: the network of 1.16.0 (the same checkpoint, so steps 1-4 are
# 1.16.0's), its shared and luggage threshold calibrated on the real clean validation bags each in four
# views (as they are, turned half round, flipped left-right, flipped upside down) rather than as they are
# only: the as-is view of those bags had chosen the checkpoints and thresholds of several versions, and
# 1.16.0 alarmed on 4.8% / 4.0% of them as they are but on 7.2% / 9.0% over the four views (its training
# bags, never chosen on, agreed across views). See the README, "Real scans in the loop".
#
# How models/xray-threat/1.16.0 was made (CPU only, 2 shared cores with AMX; ~28 min of bf16 training on a shared machine):
# the served 1.15.0 widened at strides 8 and 16 (channels 24,48,112,160; Net2WiderNet: it starts computing
# what 1.15.0 computes) and fine-tuned on 1.15.0's mix with a moving average of the weights (--ema 0.998),
# every epoch kept. Epoch 0 was chosen on the kit's validation files (each set's val.txt) among the run's
# four; training never read them. Run from the repository root with the test set-up's venv (.venv with the
# [train] extra) on PATH, with the real kit beside the project (../shared/real/xray: read its README for
# sources and terms; referenced, never copied).
set -euo pipefail
K=../shared/real/xray
D=runs/data
R=$D/real
# 1. Real kit into the training layout; each set's val.txt kept out of training (and imported apart).
KNIVES="--map scissors=blade --map folding_knife=blade --map straight_knife=blade --map utility_knife=blade --map multi_tool_knife=blade"
for split in train val; do
  if [ $split = train ]; then L=--exclude-list; else L=--only-list; fi
  triage import $K/opixray-knives --format yolo --out $R/opixray-knives-$split $KNIVES --scanner opixray $L $K/opixray-knives/val.txt
  triage import $K/sixray-threats --format voc --out $R/sixray-threats-$split --map Gun=firearm --map Knife=blade --map Wrench=ignore --scanner sixray $L $K/sixray-threats/val.txt
  triage import $K/sixray-clean --format yolo --out $R/sixray-clean-$split --scanner sixray $L $K/sixray-clean/val.txt
  triage import $K/other-clean --format yolo --out $R/other-clean-$split --scanner other $L $K/other-clean/val.txt
done
# 2. Simulated scans, a simulated validation set, vehicles, the gate set and clean calibration scans for
#    the kinds with no real clean scans (parcel, vehicle): the seeds of 1.13.0 to 1.15.0.
triage synth --kind all --count 2000 --seed 10000 --no-raw --out $D/sim-train --workers 2 --quiet
triage synth --kind all --count 300 --seed 90000 --no-raw --out $D/sim-val300 --workers 2 --quiet
triage synth --kind vehicle --count 600 --seed 120000 --no-raw --out $D/sim-vehicle600 --workers 2 --quiet
triage synth --kind all --count 1080 --seed 80000 --no-raw --out $D/gate --workers 2 --quiet
triage synth --kind all --count 1000 --seed 100000 --threat-probability 0 --no-raw --out $D/sim-calibration-clean1000 --workers 2 --quiet
# 3. Threat image projection into the real clean training bags (as for 1.14.0 and 1.15.0).
triage tip --backgrounds $R/sixray-clean-train --backgrounds $R/other-clean-train --threats $R/opixray-knives-train --threats $R/sixray-threats-train --threats $D/sim-train --threat-kinds luggage,parcel --per-source 1500 --count 2000 --seed 7 --out $D/tip-train --preview $D/tip-train-sheet.png --quiet
# 4. 1.15.0 widened and fine-tuned in bf16 with the weights averaged, every epoch kept.
triage train --init models/xray-threat/1.15.0 --widths 24,48,112,160 \
  --data $R/opixray-knives-train,$R/sixray-threats-train,$R/sixray-clean-train,$R/other-clean-train,$D/tip-train,$D/sim-train,$D/sim-vehicle600 \
  --mix 0.24,0.12,0.18,0.10,0.12,0.16,0.08 \
  --val $R/opixray-knives-val,$R/sixray-threats-val,$R/sixray-clean-val,$R/other-clean-val,$D/sim-val300 \
  --epochs 4 --seed 33 --crop-size 256 --batch-size 16 --lr 2e-4 --threads 2 --workers 1 --balance --keep-epochs \
  --ema 0.998 --precision bf16 --out runs/ft-w --quiet
# 5. Export the chosen epoch, parity check; thresholds: shared and luggage on the real clean validation bags,
#    parcel and vehicle on simulated clean scans; the card's real section; evaluation on the simulated gate set.
#    1.16.1: the real clean validation bags each in four views (--real-views 4) for the threshold.
triage export --checkpoint runs/ft-w/epoch_000.pt --calibration $D/sim-calibration-clean1000 --test $D/gate --real $K --real-views 4 --name xray-threat --version 1.16.2 --out models --far 0.05 --recipe models/xray-threat/1.16.2/reproduce.sh --quiet
# 5b. 1.16.2: the static INT8 graph, activation ranges from the real training files and simulated clean
#     scans; kept only if faster, within 0.5 AUROC points on the gate set, and within 0.02 of FP32's real
#     localised detection (averaged over each graph's thresholds for 2-10% real false alarms).
triage quantize --model models/xray-threat/1.16.2 --calibration $R/opixray-knives-train,$R/sixray-threats-train,$R/sixray-clean-train,$R/other-clean-train,$D/sim-calibration-clean1000 --test $D/gate --real $K --real-views 4 --quiet
# 6. Gate against the served model (1.16.1): real validation rows first, in the four views, then the
#    simulated gate set (the FP32 graph is 1.16.1's, so every row is level). Then promote.
triage compare --candidate models/xray-threat/1.16.2 --baseline models/xray-threat/1.16.1 --data $D/gate --real $K --real-views 4 --alpha 0.05 --quiet
triage models promote xray-threat/1.16.2
