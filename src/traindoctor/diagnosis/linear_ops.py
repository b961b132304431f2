"""Which autograd ops are linear in the inputs, read from the node alone.

The list is positive: an op is linear only if named here, so an op it does not know (a custom autograd
Function, an in-place op hidden inside CopySlices, a new ATen op) counts as possibly nonlinear. That
errs towards silence: a stack is called collapsed only when every op between its layers is known linear.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

# Linear in each operand whatever the operands carry: shape, selection, sums, averages, padding, copies.
_ALWAYS = frozenset("""
    Add Sub Rsub Neg Clone ToCopy Alias CopyBackwards
    View UnsafeView ReshapeAlias AsStrided Permute Transpose T Squeeze Unsqueeze Expand Repeat Roll Flip
    Cat Stack Split SplitWithSizes Unbind Slice Select Index IndexSelect Gather Diagonal Tril Triu
    Sum Mean Cumsum AvgPool2D AvgPool3D AdaptiveAvgPool2D AdaptiveAvgPool3D
    ConstantPadNd ReflectionPad1D ReflectionPad2D ReflectionPad3D ReplicationPad1D ReplicationPad2D ReplicationPad3D
    UpsampleNearest1D UpsampleNearest2D UpsampleNearest3D UpsampleLinear1D UpsampleBilinear2D UpsampleTrilinear3D
    PixelShuffle PixelUnshuffle Im2Col Col2Im Unfold NativeDropout NativeBatchNormLegitNoTraining
""".split())

# Products: linear while at most one of the two factors (by operand position) depends on the inputs —
# x @ W is linear, q @ k^T and x * gate(x) are not.
_FACTORS = {"Mul": (0, 1), "Mm": (0, 1), "Bmm": (0, 1), "Mv": (0, 1), "Dot": (0, 1), "Convolution": (0, 1),
            "Linear": (0, 1), "Addmm": (1, 2), "Baddbmm": (1, 2), "Addbmm": (1, 2), "Addmv": (1, 2)}


def op_name(node: Any) -> str:
    return re.sub(r"Backward\d*$", "", type(node).__name__)


def linear(node: Any, dependent: Sequence[bool]) -> bool:
    """Is `node` linear in the inputs? `dependent[i]`: does its i-th operand depend on them."""
    full, name = type(node).__name__, op_name(node)
    if name in _ALWAYS:
        return True
    if name in _FACTORS:
        i, j = _FACTORS[name]
        return not (len(dependent) > j and dependent[i] and dependent[j])
    if name == "Div":  # by a constant; DivBackward2/3 round (floor, trunc)
        return full in ("DivBackward0", "DivBackward1") and not (len(dependent) > 1 and dependent[1])
    if name in ("NativeBatchNorm", "CudnnBatchNorm", "MiopenBatchNorm"):  # running statistics (eval) are a per-channel affine map; batch statistics are not
        return getattr(node, "_saved_training", True) is False
    return False
