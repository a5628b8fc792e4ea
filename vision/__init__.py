"""Image and model code for X-ray and camera triage: simulator, model, export, inference, motion.

Nothing in this package knows about HTTP; torch is imported only inside ``vision.train``.
"""

__version__ = "0.1.0"
