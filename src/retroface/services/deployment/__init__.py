"""The installation's rules (DPIA, policy, threshold floor, EU mode), its calibration records, and the demo deployment quickstart makes."""
