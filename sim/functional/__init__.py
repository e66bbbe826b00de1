"""Functional simulation with the user's tensors: quantization, one layer's values on the hardware, and
end-to-end inference of ONNX models with every Conv / Gemm / MatMul run on the simulated hardware."""
