from conftest import ROOT
from traindoctor.vocabulary import catalog as codes
from traindoctor import docs_gen

DESIGN_CODES = """double-softmax double-sigmoid nll-without-log-softmax broadcast-loss labels-all-ignored
init-loss-mismatch label-leakage loss-imbalance grad-not-zeroed zero-grad-misplaced scheduler-too-fast
params-not-in-optimizer optimizer-params-unused frozen-params lr-too-high lr-too-low no-grad-training graph-break
eval-in-train-mode train-in-eval-mode nonfinite-input nonfinite-forward nonfinite-backward exploding-gradients
vanishing-gradients dead-relu saturated-activations unnormalized-inputs unnormalized-targets class-imbalance
split-overlap test-fit-leakage shuffled-time-split batch-mixing causal-leak cannot-overfit-batch constant-output
input-ignored loss-plateau loss-oscillation loss-spikes loss-divergence overfitting loss-metric-mismatch
slow-convergence prng-key-reuse jit-side-effect script-error""".split()


def test_catalog_holds_every_design_code():
    assert set(DESIGN_CODES) <= set(codes.CATALOG)


def test_catalog_entries_are_complete():
    for c in codes.CATALOG.values():
        assert c.title and c.what and c.why and c.next_step, c.code
        assert c.hypotheses and all(h.kind in ("likely", "subtle", "null") and h.check for h in c.hypotheses), c.code
        assert all(e in codes.CATALOG for e in c.explains), c.code


def test_codes_doc_in_sync_with_catalog():
    on_disk = (ROOT / "docs" / "codes.md").read_text()
    assert on_disk == docs_gen.render(), "run `make docs` to regenerate docs/codes.md"
