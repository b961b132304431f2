"""symmetric-units for weights the probes do not see: tensors outside the trained model (plain tensors made
with requires_grad=True, kept in globals, dicts or a module's plain attributes) that the loss multiplies as
matrices (an added table has no units), whose units started as copies (measure/alike.py) and that training
moved alike. The trained model's own layers are the probes' to judge."""

from __future__ import annotations

from ..measure.alike import change, spread, units_dim
from ..measure.recorder import Recorder
from ..measure.steps import parameter_names
from ..vocabulary.finding import Finding
from .common import main_model
from .loop import attribute_name
from .numerics import why_not_learning
from .probes import follow_consequence, symmetric_units
from .thresholds import MIN_STEPS


def check(rec: Recorder) -> list[Finding]:
    model = main_model(rec)
    probed = {id(p) for p in model.module.parameters()} if model is not None else set()
    measured: dict[str, tuple[int, float | None, float | None]] = {}
    still: list[str] = []
    known = units_dim(rec.models())
    for st in rec.optimizers.values():
        if st.steps < MIN_STEPS:  # a few updates for "moved alike" to stand on
            continue
        params = [p for p in st.params() if id(p) in st.alike and id(p) not in probed and id(p) in st.ever_grad
                  and id(p) in rec.multiplied]
        for p, module_name in zip(params, parameter_names(params, rec.models())):
            name = st.alike_names.get(id(p)) or attribute_name(rec, p) or (
                module_name if module_name != "<unnamed>" else f"tensor[{'x'.join(map(str, p.shape))}]")
            # The units lie along the dimension the layer's layout says, or else the one whose slices moved most alike.
            dims = {d: first for d, first in st.alike[id(p)].items() if known.get(id(p), d) == d}
            if not dims:
                continue
            dim, moved = min(((d, change(p, d, first)) for d, first in dims.items()), key=lambda dc: spread(dc[1]))
            measured[label := f"{name} (dim {dim})"] = (p.shape[dim], spread(moved), None)
            if not moved.any():
                still.append(label)
    if not measured:
        return []
    found, _ = symmetric_units(measured, trained=True, source=rec.source, still=still)
    return follow_consequence([found], why_not_learning(rec)) if found else []
