"""Evaluation: classification metrics and weakly supervised localization, reading only ``ModelOutput`` fields.

predict.py         model over a feature-store split -> per-clip probabilities, maps and weights (numpy)
aggregation.py     clips -> video probabilities (model logits, or frames by mean / mode / attention)
classification.py  top-k, mean class accuracy, confusion matrix, per-class rows
boxes.py           attention map -> box in original pixels, attention peak, IoU
spatial.py         frame-mAP over IoU thresholds (UCF101-24), pointing game
temporal.py        temporal weights -> segments, tIoU, THUMOS'14 matching and 11-point AP
ap.py              precision / recall and the AP variants
report.py          printed protocol and tables, confusion PNG, per_class.csv, metrics.json
runner.py          evaluate_predictions / evaluate_model / evaluate_run

The protocols, with their differences from the official code, are in docs/evaluation.md.
"""
