"""Calibration: observer-based PTQ and teacher-student distillation of quantizer parameters."""

from vidquant.calibrate.distill import DistillResult, distill, initialize_steps, is_main_process, mse_over_outputs
from vidquant.calibrate.ptq import calibrate_ptq, calibrating, default_forward, quantize_on_random_inputs

__all__ = ["DistillResult", "calibrate_ptq", "calibrating", "default_forward", "distill", "initialize_steps",
           "is_main_process", "mse_over_outputs", "quantize_on_random_inputs"]
