"""A non-finite value born in exp (or pow, cosh) after steps that grew with the function's slope: the
function explains the large updates. Steps that rivalled the weights from the first are the rate's."""
from traindoctor.judge.nonfinite import explain, steep_steps


def steps(*pairs):
    return [{"step": i, "loss": 1.0, "grad_norm": g, "update_ratio": u} for i, (g, u) in enumerate(pairs)]


def overflow(name="exp", source="linear"):
    argument = {"shape": [64, 1], "min": -20.0, "max": 400.0, "smallest_magnitude": 0.1, "from": source}
    return {"step": 3, "loss": float("nan"), "grad_norm": float("nan"), "inputs_checked": 1,
            "replay": {"module": None, "output_finite": True,
                       "function": {"name": name, "module": None, "in_loss": True, "location": {"line": 9},
                                    "arguments": [argument], "dtype": "float32", "dtype_max": 3.4e38,
                                    "result": {"inf": 40, "nan": 0, "numel": 64}}}}


def test_steps_that_grew_with_the_gradient_are_steep():
    steep = steep_steps(steps((180.0, 0.02), (186.0, 0.05), (24000.0, 18.0)))
    assert steep["ratio_before"] == 0.05 and steep["growth"] > 100


def test_steps_as_large_as_the_weights_from_the_first_are_the_rates():
    assert steep_steps(steps((900.0, 2.6), (23000.0, 24.0), (1e8, 4800.0))) is None  # a summed loss under SGD
    assert steep_steps(steps((16.7, 0.24), (674.0, 9.4))) is None  # large before the growth: 200x healthy
    assert steep_steps(steps((180.0, 0.15), (200.0, 0.2), (190.0, 0.3))) is None  # the gradient never grew
    assert steep_steps([]) is None


def test_an_exp_overflow_after_steep_steps_explains_the_rate():
    f = explain(overflow(), steps((180.0, 0.02), (186.0, 0.05), (24000.0, 18.0)), "run")
    assert f.code == "nonfinite-forward" and f.evidence["explains"] == ["lr-too-high"]
    rpow = explain(overflow("rpow"), steps((3000.0, 0.01), (5000.0, 0.04), (3e6, 8.3)), "run")
    assert rpow.evidence["explains"] == ["lr-too-high"] and "Guard `rpow`" in rpow.next_step


def test_a_division_or_the_rates_own_steps_explain_nothing():
    assert "explains" not in explain(overflow("div"), steps((180.0, 0.02), (24000.0, 18.0)), "run").evidence
    assert "explains" not in explain(overflow(), steps((900.0, 2.6), (23000.0, 24.0)), "run").evidence
