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


def stepped(*triples):
    return [{"step": i, "loss": v, "grad_norm": g, "update_ratio": u} for i, (g, u, v) in enumerate(triples)]


def test_large_steps_that_lowered_the_loss_until_the_function_grew_are_steep():
    mlp = stepped((151.0, 0.41, -17.2), (131.0, 0.32, -229.7), (8152.0, 16.7, 941.2))  # Poisson NLL, full batch
    gru = stepped((180.0, 0.15, -8.0), (186.0, 0.26, -156.7), (24417.0, 18.6, 4295.1))  # exp head on a GRU
    minibatch = stepped((44.0, 0.065, -0.32), (54.0, 0.134, -22.8), (16.0, 0.134, -48.0), (2077.0, 2.77, 278.7))
    for recent in (mlp, gru, minibatch):
        steep = steep_steps(recent)
        assert steep is not None and steep["loss_before"] < steep["loss_first"], recent
    f = explain(overflow(), gru, "run")
    assert f.evidence["explains"] == ["lr-too-high"] and "lowered the loss from" in f.observation


def test_large_steps_that_raised_the_loss_or_rivalled_the_weights_are_the_rates():
    assert steep_steps(stepped((16.7, 0.24, 1.24), (674.0, 9.4, 48.5))) is None  # the first step overshot
    assert steep_steps(stepped((100.0, 0.3, 1.0), (120.0, 0.3, 5.0), (5000.0, 9.0, 80.0))) is None  # it rose
    assert steep_steps(stepped((900.0, 2.6, 10.0), (800.0, 2.0, 5.0), (23000.0, 24.0, 1e4))) is None  # rivals
    assert "explains" not in explain(overflow(), stepped((100.0, 0.3, 1.0), (120.0, 0.3, 5.0), (5000.0, 9.0, 80.0)),
                                     "run").evidence
