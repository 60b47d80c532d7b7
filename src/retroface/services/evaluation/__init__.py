"""Accuracy measured with the real engine on labelled data: identification, verification, calibration."""
