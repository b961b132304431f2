import re

from conftest import ROOT
from traindoctor.vocabulary import catalog as codes
from traindoctor.vocabulary.hypothesis import KINDS
from traindoctor import docs_gen

SRC = ROOT / "src" / "traindoctor"
# Where a code's name is written without the code being emitted: the catalog and the docs generators.
NOT_PRODUCERS = (SRC / "vocabulary", SRC / "docs_gen.py", SRC / "lint" / "docs.py")

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
        assert c.hypotheses and all(h.kind in KINDS and h.check for h in c.hypotheses), c.code
        assert all(e in codes.CATALOG for e in c.explains) and len(set(c.explains)) == len(c.explains), c.code


def test_each_area_reads_as_one_section():
    areas = [c.area for c in codes.CATALOG.values()]
    assert all(areas)
    runs = [a for i, a in enumerate(areas) if i == 0 or areas[i - 1] != a]
    assert len(runs) == len(set(runs)), runs  # docs/codes.md has one section per area


def _emitted() -> set[str]:
    text = "\n".join(p.read_text() for p in SRC.rglob("*.py")
                     if not any(p == q or q in p.parents for q in NOT_PRODUCERS))
    return {code for code in codes.CATALOG if re.search(f"[\"']{re.escape(code)}[\"']", text)}


def test_every_code_is_emitted_or_planned():
    emitted = _emitted()
    assert emitted, "no code found in src/: the scan is broken"
    assert [c.code for c in codes.CATALOG.values() if c.code not in emitted and not c.planned] == [], \
        "no producer in src/ emits these: say in `planned` which work will"
    assert [c.code for c in codes.CATALOG.values() if c.code in emitted and c.planned] == [], \
        "emitted now: clear its `planned`"


def test_codes_doc_in_sync_with_catalog():
    on_disk = (ROOT / "docs" / "codes.md").read_text()
    assert on_disk == docs_gen.render(), "run `make docs` to regenerate docs/codes.md"
