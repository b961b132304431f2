"""Reading the script's printed lines into series: label/number pairs, bounds, the tee that copies stdout."""
import io
import sys

from traindoctor.measure.printed import MAX_LINES, Printed, _pairs, teed


def test_pairs_read_the_words_right_before_each_number():
    assert list(_pairs("epoch 3  train loss 0.0005  val acc 0.000")) == [
        ("epoch", 3.0), ("train loss", 0.0005), ("val acc", 0.0)]
    assert list(_pairs("iter  42  loss -0.0120  mean episode return  -222.45")) == [
        ("iter", 42.0), ("loss", -0.012), ("mean episode return", -222.45)]
    assert list(_pairs("[epoch 3/10] Accuracy: 45.5%, lr=1e-3")) == [("epoch", 0.3), ("accuracy", 45.5), ("lr", 0.001)]
    # numbers inside words, versions and paths are not values; a number with no words before it has no label
    assert list(_pairs("v1.2.3 3rd 10000 (99%) 3/10")) == []
    assert list(_pairs("top5 acc 0.9 | f1 0.8")) == [("top5 acc", 0.9), ("f1", 0.8)]
    # which accuracy, which batch: not values (`Acc@5 81.2` reads no constant 5 as an accuracy)
    assert list(_pairs(" * Acc@1 45.20 Acc@5 81.2")) == []
    assert list(_pairs("| epoch 1 | 200/ 2983 batches | lr 20.00 | loss 6.91")) == [
        ("epoch", 1.0), ("lr", 20.0), ("loss", 6.91)]
    # a count out of a total is the fraction, whatever the total (40/40 is all, not 40%)
    assert list(_pairs("Test set: Average loss: 0.0341, Accuracy: 9890/10000 (99%)")) == [
        ("set average loss", 0.0341), ("accuracy", 0.989)]
    assert list(_pairs("Accuracy: 40/40 (100%)")) == [("accuracy", 1.0)]
    # a label repeated in a line keeps its first value
    assert list(_pairs("loss 1.0 loss 2.0")) == [("loss", 1.0)]


def test_kind_is_the_last_word_and_ambiguous_words_are_not_success():
    p = Printed()
    for i in range(6):
        p.write(f"step {i} greedy reward {i} val acc {i / 10} (no return can exceed 1) error 0.1 score {i}\n", i)
    kinds = {k: m.kind for k, m in p.series(5).items()}
    assert kinds["greedy reward"] == "reward" and kinds["val acc"] == "score"
    assert kinds["return can exceed"] is None and kinds["error"] is None and kinds["score"] is None


def test_series_need_enough_prints_and_keep_the_step():
    p = Printed()
    for i in range(4):
        p.write(f"acc {i}\n", 10 * i)
    assert p.series(5) == {}
    p.write("acc 4\n", 40)
    assert p.series(5)["acc"].steps == [0, 10, 20, 30, 40]


def test_partial_writes_join_into_lines_and_memory_is_bounded():
    p = Printed()
    p.write("acc ", 0)
    p.write("0.5", 1)
    p.write("\nnext", 2)
    assert p.lines == [(2, "acc 0.5")]
    for _ in range(MAX_LINES + 5):
        p.write("x\n", 0)
    assert len(p.lines) == MAX_LINES and p.dropped == 6


def test_tee_passes_everything_through_and_gives_stdout_back():
    out, p = io.StringIO(), Printed()
    saved = sys.stdout
    sys.stdout = out
    try:
        with teed(p, lambda: 7):
            print("val acc", 0.5)
            sys.stdout.write("raw\n")
            assert sys.stdout.isatty() is False  # attributes are the stream's
            sys.stdout.flush()
        assert sys.stdout is out
    finally:
        sys.stdout = saved
    assert out.getvalue() == "val acc 0.5\nraw\n"
    assert p.lines == [(7, "val acc 0.5"), (7, "raw")]


def test_a_script_that_replaces_stdout_keeps_its_choice():
    p, mine = Printed(), io.StringIO()
    saved = sys.stdout
    try:
        with teed(p, lambda: 0):
            sys.stdout = mine
        assert sys.stdout is mine
    finally:
        sys.stdout = saved
