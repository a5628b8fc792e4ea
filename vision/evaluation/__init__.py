"""Evaluation without torch: metrics, scoring of a served model on datasets (simulated and real), and the
gate that judges a candidate against the served model. The service, the CLI and training all use it; it
needs only the runtime (onnxruntime, numpy, OpenCV)."""
