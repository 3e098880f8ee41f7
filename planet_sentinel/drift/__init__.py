"""Drift monitoring: the training baseline, the drift tests and the drift report."""
