"""Dual-energy X-ray physics shared by inference, threat image projection and the simulator.

Materials and spectra (``materials``), scanner profiles (``profiles``) and the workstation false-colour
map (``colour``): numpy and OpenCV only, so the service renders raw high/low pairs without the simulator.
"""
