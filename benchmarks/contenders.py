"""The contenders: which virtual environment runs them and which ports they are compared with."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Contender:
    """One way of running the model, timed in its own worker process in virtual environment `env`.

    `references`: the contenders this one's per-round speed-up is reported against.
    """

    name: str
    env: str
    description: str
    references: tuple[str, ...] = ()


MATMUL = "matmul"
MATMUL_N = 2048
MATMUL_FLOPS = 2 * MATMUL_N**3

CONTENDERS: dict[str, Contender] = {
    c.name: c
    for c in (
        Contender("ours-pt", "ours-pt", "groupvit.pt.GroupViTModel, eager", ("port-pt",)),
        Contender("ours-pt-compile", "ours-pt", "groupvit.pt.GroupViTModel, torch.compile", ("port-pt", "ours-pt")),
        Contender("ours-pt-bf16", "ours-pt", "groupvit.pt.GroupViTModel in bfloat16 (model.to(torch.bfloat16), "
                  "float32 islands), eager", ("port-pt", "ours-pt")),
        Contender("ours-pt-packed", "ours-pt", "groupvit.pt.GroupViTModel, eager, with the opt-in packed weight "
                  "copies (groupvit.pt.linear.set_weight_packing(True))", ("port-pt", "ours-pt")),
        Contender("ours-pt-bf16-packed", "ours-pt", "ours-pt-bf16 with the opt-in packed weight copies",
                  ("port-pt", "ours-pt-bf16")),
        Contender("ours-pt-int8", "ours-pt", "groupvit.pt.GroupViTModel, dynamic int8 linear layers (torch.ao), "
                  "eager", ("port-pt", "ours-pt")),
        Contender("port-pt", "port-pt", "transformers 5 GroupViTModel (PyTorch), eager"),
        Contender("ours-onnx", "ours-onnx", "our PyTorch model exported to ONNX, on onnxruntime (groupvit export)",
                  ("port-pt", "ours-pt")),
        Contender(
            "ours-tf", "ours-tf", "groupvit.tf.TFGroupViTModel, default call (a cached graph from the 2nd call on)",
            ("port-tf-eager", "port-tf-function", "ours-pt"),
        ),
        Contender(
            "ours-tf-bf16", "ours-tf", "groupvit.tf.TFGroupViTModel(dtype='mixed_bfloat16'), default call",
            ("port-tf-eager", "port-tf-function", "ours-tf"),
        ),
        Contender(
            "ours-tf-bf16-vars", "ours-tf", "groupvit.tf.TFGroupViTModel(dtype='bfloat16'): bfloat16 variables, "
            "default call", ("port-tf-eager", "port-tf-function", "ours-tf"),
        ),
        Contender(
            "ours-tf-function", "ours-tf", "groupvit.tf.TFGroupViTModel in tf.function",
            ("port-tf-eager", "port-tf-function", "ours-pt"),
        ),
        Contender(
            "ours-tf-jit", "ours-tf", "groupvit.tf.TFGroupViTModel in tf.function(jit_compile=True)",
            ("port-tf-eager", "port-tf-function", "ours-pt"),
        ),
        Contender("port-tf-eager", "port-tf", "transformers 4.57 TFGroupViTModel (Keras 2, tf-keras), eager call"),
        Contender(
            "port-tf-function", "port-tf", "transformers 4.57 TFGroupViTModel (Keras 2, tf-keras) in tf.function"
        ),
        Contender(MATMUL, "ours-pt", "fp32 2048x2048 @ 2048x2048 (torch.mm), the throughput yardstick"),
    )
}

# Memory and time to first answer are compared between these pairs (ours, port).
PAIRS: tuple[tuple[str, str], ...] = (("ours-pt", "port-pt"), ("ours-pt-compile", "port-pt"),
                                      ("ours-pt-bf16", "ours-pt"), ("ours-pt-int8", "ours-pt"),
                                      ("ours-pt-packed", "ours-pt"), ("ours-pt-bf16-packed", "ours-pt-bf16"),
                                      ("ours-tf-bf16", "ours-tf"), ("ours-tf-bf16-vars", "ours-tf"),
                                      ("ours-tf", "port-tf-eager"), ("ours-tf-function", "port-tf-function"),
                                      ("ours-tf-jit", "port-tf-function"))
