"""What the codec commands run: training, INT8 calibration, the test sweep, drift, conformance, the demo (see ../README.md)."""
