"""`nndl lesson`: every public name of every backend is taught, the code shown is the code, and the proof is live."""

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conformance.backend.registry import BUILT_IN
from conformance.book import diff, evidence, lesson, lessons, site, source
from conformance.book.lessons import BY_NAME, CONCEPTS

ROOT = Path(__file__).resolve().parent.parent


def taught() -> set[tuple[str, str]]:
    """(module, top-level name) of every definition a lesson shows; (module, "*") for a whole module."""
    return {(module, name.split(".")[0]) for concept in CONCEPTS for module, name in concept.code}


def backend_modules() -> list[Path]:
    return sorted(path for package in BUILT_IN.values() for path in (ROOT / package).glob("*.py"))


@pytest.mark.parametrize("path", backend_modules(), ids=lambda path: f"{path.parent.name}/{path.name}")
def test_every_public_name_of_a_backend_module_belongs_to_a_lesson(path):
    module, lessons = path.stem, taught()
    untaught = [
        name for name in source.public_names(path) if (module, name) not in lessons and (module, "*") not in lessons
    ]
    assert not untaught, (
        f"{path.parent.name}/{path.name}: no lesson shows {untaught}; add them to conformance/book/lessons.py"
    )


def test_the_coverage_test_sees_a_new_layer():
    """A layer added to a backend's layers.py would be a public name that no lesson shows."""
    extended = (ROOT / "reference/layers.py").read_text() + "\n\nclass Recurrent:\n    pass\n"
    names = source.public_names_of(extended)
    assert "Recurrent" in names and ("layers", "Recurrent") not in taught()


def test_every_definition_a_lesson_names_exists_in_some_backend():
    for concept in CONCEPTS:
        for part in lesson.parts_of(concept):
            assert any(not code.missing for code in part.codes), f"{concept.name}: {part.title} is defined nowhere"


def test_every_missing_definition_has_the_reason_its_file_gives():
    reasons = {
        (part.title, code.backend): code.missing
        for concept in CONCEPTS
        for part in lesson.parts_of(concept)
        for code in part.codes
        if code.missing
    }
    assert not [key for key, why in reasons.items() if "does not say why" in why or "no file says why" in why]
    assert reasons[("costs.CrossEntropyCost.delta", "torch")].startswith("Autograd differentiates `fn`")
    assert "there is no `delta`" in reasons[("costs.CrossEntropyCost.delta", "jax")]
    assert reasons[("streams.py", "numpy")] == "The reference has no such file: NumPy's generator is the shared stream."
    assert "there is no `_scanned_epoch`" in reasons[("train._scanned_epoch", "numpy")]


def test_the_code_shown_is_the_files_own():
    part = lesson.part_of("costs", "CrossEntropyCost.delta")
    reference = part.codes[0]
    assert (reference.path, reference.line) == ("reference/costs.py", 30)
    source = (ROOT / "reference/costs.py").read_text().splitlines()
    assert reference.text.splitlines()[0] == source[reference.line - 2].strip()  # the decorator above the def
    assert reference.text.splitlines()[-1] == "    return a - y"


def _row(*texts):
    return diff.compare(tuple(diff.read_lines(text)[0] if text is not None else None for text in texts))


def test_indentation_and_docstring_wording_are_never_shaded_as_code():
    same_code = _row("y = np.exp(x)", "        y = np.exp(x)")
    assert [cell.status for cell in same_code] == ["same", "same"] and not same_code[1].changed
    docstrings = diff.merge(
        [
            diff.read_lines('def f(x):\n    """The mean cost gradient, by hand."""\n    return x'),
            diff.read_lines('def f(x):\n    """The mean cost gradient, by autograd."""\n    return x'),
        ]
    )
    statuses = [[cell.status for cell in diff.compare(row)] for row in docstrings]
    assert statuses == [["same", "same"], ["reworded", "reworded"], ["same", "same"]]
    assert all(not cell.changed for row in docstrings for cell in diff.compare(row))
    assert [t.text for t in diff.compare(docstrings[1])[1].reworded] == ['autograd."""']


def test_a_string_inside_brackets_is_code_and_a_docstring_is_prose():
    lines = diff.read_lines('def f():\n    """Why."""\n    raise ValueError(\n        "a message"\n    )')
    assert [line.kind for line in lines] == ["code", "prose", "code", "code", "code"]


def test_only_the_words_that_differ_are_marked_and_only_where_they_differ():
    numpy, torch, jax = _row("y = np.exp(x)", "y = torch.exp(x)", "y = np.exp(x)")
    assert [t.text for t in torch.changed] == ["torch"] and not jax.changed
    assert not numpy.changed  # the reference matches jax: it is not shaded for torch's difference
    assert (numpy.status, torch.status, jax.status) == ("same", "differs", "same")


def test_lines_pair_by_role_not_by_position():
    """max-pooling: forward beside forward, the reference's backward beside nothing of torch's fn."""
    part = lesson.part_of("pooling", "MaxPool")
    beside = {row[0].line.text.strip(): row[1].line for row in part.rows if row[0].line is not None}
    assert beside["return _windows(u, self.size).max(axis=0)"].text.strip() == "return F.max_pool2d(u, self.size)"
    backward = [row for row in part.rows if row[0].line is not None and row[0].line.section == "backward"]
    assert backward and all(row[1].line is None for row in backward)


def test_prose_never_sits_beside_code():
    for concept in CONCEPTS:
        for part in lesson.parts_of(concept):
            for row in part.rows:
                kinds = {cell.line.kind for cell in row if cell.line is not None} - {"blank"}
                assert len(kinds) <= 1, (concept.name, part.title, [c.line and c.line.text for c in row])


def test_a_declared_anchor_sets_the_hand_written_bp1_beside_autograd():
    part = next(p for p in lesson.parts_of(BY_NAME["bp1"]) if p.title == "network.backprop")
    row = next(row for row in part.rows if row[0].line is not None and "network.cost.delta(" in row[0].line.text)
    assert "torch.autograd.grad(" in row[1].line.text and "jax.grad(mean_cost)" in row[2].line.text


def test_the_helpers_that_carry_the_difference_are_shown_and_imports_are_not():
    titles = {part.title: part for part in lesson.parts_of(BY_NAME["max-pooling"])}
    helpers = titles[
        "pooling: the every-tie rule (network3's), written where the framework's own rule is the other one"
    ]
    assert "class _MaxPoolAllTies(torch.autograd.Function):" in helpers.codes[1].text
    assert "@partial(jax.custom_vjp, nondiff_argnums=(1,))" in helpers.codes[2].text
    assert "def _windows(u, size):" in titles["pooling: the windows"].codes[0].text
    streams = lesson.part_of("streams", "*")
    assert all("import " not in code.text for code in streams.codes) and streams.codes[2].left_out
    epoch = lesson.part_of("train", "Model.train_epoch").codes[1]
    assert "in half the time" not in epoch.text and epoch.left_out == ("1 timing note",)


def test_the_site_marks_far_fewer_cells_than_before():
    """Measured before issue 20: 1,852 cells marked "differs" against 954 "same"."""
    counts = {}
    for concept in CONCEPTS:
        for part in lesson.parts_of(concept):
            for status, count in part.marked.items():
                counts[status] = counts.get(status, 0) + count
    assert counts["differs"] < 800 and counts["same"] > 900


def test_names_are_case_insensitive_and_have_aliases():
    assert lesson.lookup("BP1") is BY_NAME["bp1"] and lesson.lookup("MaxPool") is BY_NAME["max-pooling"]


def test_every_equation_line_has_its_math_and_every_book_lesson_its_link():
    assert set(lessons.read_teaching()) == set(BY_NAME)  # lessons.toml teaches every lesson, and only those
    for concept in CONCEPTS:
        assert len(concept.equation.splitlines()) == len(concept.mathml), concept.name
        assert 2 <= concept.look_for.count(". ") + 1 <= 6, concept.name
        if concept.chapter is not None:
            assert re.fullmatch(
                r"http://neuralnetworksanddeeplearning\.com/chap\d\.html#[a-z0-9_-]+", concept.book_link
            )
    assert (
        "(ch. 2, eq. 23)" in BY_NAME["feedforward"].equation and "(eq. 93, over a mini-batch)" in BY_NAME["l2"].equation
    )


def test_the_project_rules_are_labelled_apart_from_the_book():
    text = lesson.lesson_text(BY_NAME["max-pooling"], None, width=120)
    assert "nndl's own rule: ties = 'first'" in text
    assert "ties" not in BY_NAME["max-pooling"].equation


# -- the command ---------------------------------------------------------------------------------


def test_the_list_names_every_concept(nndl):
    result = nndl("lesson")
    assert result.code == 0
    listed = [line.split()[0] for line in result.out.splitlines() if line.startswith("  ")]
    assert listed == [concept.name for concept in CONCEPTS]
    headings = [line for line in result.out.splitlines()[1:] if line and not line.startswith(" ")]
    assert headings[0].startswith("Chapter 1") and headings[-1].startswith("nndl's own")
    assert {"perceptron", "cross-entropy", "bp1", "bp4", "l2", "l1", "dropout", "sgd", "epoch", "streams"} <= set(
        listed
    )


def test_cross_entropy_side_by_side_with_live_evidence(nndl, quick_mnist, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    result = nndl("lesson", "cross-entropy")
    assert result.code == 0, result.err
    out = result.out
    assert "C = -(1/n) sum_x sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)]" in out
    heading = next(line for line in out.splitlines() if "reference/costs.py" in line)
    assert "torch_impl/costs.py" in heading and "jax_impl/costs.py" in heading  # three columns, one line
    differing = [line for line in out.splitlines() if line.startswith("* ")]
    assert any("np.sum(np.logaddexp" in line and "jnp.sum(jnp.logaddexp" in line for line in differing)
    assert "torch: missing: Autograd differentiates `fn`" in out
    assert "\033[" not in out  # not a terminal: plain markers
    worst = re.search(r"worst difference between the backends (\S+) \(bound (\S+)\)", out)
    assert 0 < float(worst[1]) < float(worst[2]) == 1e-10
    assert re.search(r"numpy vs finite differences \d\.\de-\d\d", out)
    assert re.search(r"measured \d{4}-\d\d-\d\d \d\d:\d\d UTC with python [\d.]+, numpy [\d.]+", out)


def test_a_narrow_terminal_shows_one_backend_after_another(nndl, quick_mnist, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    out = nndl("lesson", "perceptron").out
    headings = [line.strip() for line in out.splitlines() if line.startswith(("  numpy (", "  torch ("))]
    assert "numpy (reference/perceptron.py:14)" in headings and "torch (torch_impl/perceptron.py:14)" in headings
    assert "  *     return (x @ w + b > 0).to(x.dtype)" in out.splitlines()


def test_color_marks_the_differences_when_asked(nndl, quick_mnist, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out = nndl("lesson", "perceptron", "--color", "always").out
    assert "    return (x @ w + b > 0)." + lesson.ANSI["differs"] + "to" + lesson.ANSI["end"] + "(x.dtype)" in out
    assert "    return (x @ w + b > 0).astype(x.dtype)" in out  # the reference matches JAX: not painted


def test_the_perceptron_lesson_proves_the_adder(nndl, quick_mnist):
    out = " ".join(nndl("lesson", "perceptron").out.split())
    assert "Output bits that differ: torch vs numpy 0, jax vs numpy 0, jax vs torch 0, numpy vs truth table 0." in out


def test_a_backend_that_disagrees_fails_the_lesson(nndl, quick_mnist, monkeypatch):
    """tests/broken_backend.py scales every gradient by 1 + 1e-7: the evidence says so, and the command exits 1."""
    monkeypatch.setitem(BUILT_IN, "broken", "tests.broken_backend")
    result = nndl("lesson", "cross-entropy")
    assert result.code == 1
    failed = " ".join(result.out.split("FAILED:")[1].split("\n\n")[0].split())
    assert re.search(r"worst difference between the backends 1\.0e-07 \(bound 1\.0e-10\)", failed)
    assert "broken vs numpy 1.0e-07 FAIL" in failed and re.search(r"jax vs numpy \d\.\de-1[5-7],", failed)


def test_an_unknown_concept_is_one_line(nndl):
    result = nndl("lesson", "backprop-through-time")
    assert result.code == 2 and result.err.count("\n") == 1
    assert "no lesson named 'backprop-through-time'" in result.err


def test_a_backend_that_is_not_installed_is_shown_so(nndl, quick_mnist, monkeypatch):
    monkeypatch.setitem(BUILT_IN, "ghost", "ghost_impl")
    monkeypatch.setenv("COLUMNS", "250")
    result = nndl("lesson", "l2")
    assert result.code == 0, result.err
    assert "ghost: missing: no ghost_impl package is installed to read the code from" in result.out
    assert "ghost: the ghost backend is not installed" in result.out and "(not installed, left out)" in result.out


# -- the site ------------------------------------------------------------------------------------


def concept_page(tmp_path, name="cross-entropy", mnist=None, others=()) -> Path:
    """The site of `name` (measured) and `others` (not measured: no evidence), and the path of name's page."""
    loader = lesson.mnist_loader(lambda: mnist)
    concepts = [c for c in CONCEPTS if c.name == name or c.name in others]
    site.write_site(
        tmp_path, concepts, lambda c: evidence.measure(c, loader) if c.name == name else None, log=lambda m: None
    )
    return tmp_path / f"{name}.html"


def test_the_site_has_an_index_and_a_page_with_three_columns_and_math(tmp_path, mnist):
    page = concept_page(tmp_path, mnist=mnist, others=("bp4", "softmax", "quadratic")).read_text()
    index = (tmp_path / "index.html").read_text()
    assert '<a href="cross-entropy.html">cross-entropy</a>' in index
    assert index.index("Chapter 1") < index.index("quadratic.html") < index.index("Chapter 2") < index.index("bp4.html")
    assert index.index("Chapter 3") < index.index("cross-entropy.html") < index.index("softmax.html")
    assert '<input id="search"' in index and "item.hidden" in index  # the search box, offline
    assert page.count('<th class="backend ') == 3 * len(BY_NAME["cross-entropy"].code)
    assert page.count('<math display="block">') == 2 and "<mfrac>" in page
    assert '<td class="missing" rowspan="4">missing: Autograd differentiates <code>fn</code>' in page
    assert (
        '<mark class="code"><span class="n">np</span></mark><span class="o">.</span>' in page
    )  # the word, not the line
    assert "worst difference between the backends" in page and "measured " in page and "jaxlib" in page
    assert "float64 rounds at 2.2e-16" in page and "cross-entropy cost, no regulariser" in page
    links = re.findall(r'(?:href|src)="([^"]+)"', page)
    assert '<a rel="prev" href="bp4.html">' in page and '<a rel="next" href="softmax.html">' in page
    assert [link for link in links if "://" in link] == [
        "http://neuralnetworksanddeeplearning.com/chap3.html#the_cross-entropy_cost_function"
    ]  # the book; everything else is relative, so the site works from disk
    assert '<a href="quadratic.html"><code>quadratic</code></a>' in page  # a lesson named is a lesson linked


def test_a_page_written_alone_names_its_neighbours_without_linking_them(tmp_path):
    site.write_site(tmp_path, [BY_NAME["l2-pooling"]], lambda concept: None, log=lambda m: None)
    page = (tmp_path / "l2-pooling.html").read_text()
    assert "previous: max-pooling (not in this site)" in page and "next: ensemble (not in this site)" in page
    assert "max-pooling.html" not in page


def test_the_site_refuses_a_directory_with_files(tmp_path, nndl):
    (tmp_path / "notes.txt").write_text("mine")
    result = nndl("lesson", "perceptron", "--html", tmp_path)
    assert result.code == 2 and "is not empty" in result.err
    assert (tmp_path / "notes.txt").read_text() == "mine" and not (tmp_path / "index.html").exists()


# -- the site in a real browser ------------------------------------------------------------------

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# Opens a lesson page in a frame and writes down what the browser made of it: how each <math> is
# displayed ("block math" where MathML is rendered natively) and how tall, and where each code
# column's heading is. --allow-file-access-from-files lets the frame be read from disk.
MEASURE_PAGE = """<!DOCTYPE html><html><body>
<iframe id="page" src="PAGE" style="width:1400px;height:1000px"></iframe>
<script>
document.getElementById("page").onload = () => {
  const doc = document.getElementById("page").contentDocument;
  const out = document.createElement("pre");
  out.id = "measured";
  out.textContent = JSON.stringify({
    math: [...doc.querySelectorAll("math")].map((m) => [getComputedStyle(m).display, m.getBoundingClientRect().height]),
    fractions: [...doc.querySelectorAll("mfrac")].map((f) => f.getBoundingClientRect().height),
    columns: [...doc.querySelector("table.code thead tr").children].map((h) => [h.textContent, h.getBoundingClientRect().left]),
    codeSizes: [...doc.querySelectorAll("table.code td")].map((td) => parseFloat(getComputedStyle(td).fontSize)),
    blankHeights: [...doc.querySelectorAll("table.code td.blank")].map((td) => td.getBoundingClientRect().height),
    navigation: [...doc.querySelectorAll("nav a")].map((a) => [a.rel, a.getAttribute("href")]),
    text: doc.body.innerText,
  });
  document.body.appendChild(out);
};
</script></body></html>
"""


@pytest.fixture(scope="module")
def browser():
    found = next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)
    if found is None:
        pytest.skip(
            f"no browser to test the lesson site in ({', '.join(BROWSERS)} not on PATH); .ci/run installs chromium"
        )
    return found


def headless(browser, *args) -> str:
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *map(str, args)]
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_the_site_in_a_real_browser_has_three_columns_and_rendered_math(browser, tmp_path, mnist):
    page = concept_page(tmp_path / "site", mnist=mnist, others=("bp4", "softmax"))
    screenshot = tmp_path / "cross-entropy.png"
    dom = headless(browser, "--window-size=1400,1200", f"--screenshot={screenshot}", "--dump-dom", page.as_uri())
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 20_000
    assert dom.count('<th class="backend ') == 3 * len(BY_NAME["cross-entropy"].code)
    assert dom.count("<math") == 2 and "<mfrac>" in dom and "\\frac" not in dom and "$$" not in dom

    measure = tmp_path / "site" / "measure.html"
    measure.write_text(MEASURE_PAGE.replace("PAGE", page.name))
    dom = headless(
        browser, "--allow-file-access-from-files", "--virtual-time-budget=10000", "--dump-dom", measure.as_uri()
    )
    measured = json.loads(html.unescape(re.search(r'<pre id="measured">(.*?)</pre>', dom)[1]))
    assert [display for display, _ in measured["math"]] == ["block math", "block math"]  # MathML, natively
    assert all(height > 15 for _, height in measured["math"]) and measured["fractions"][0] > 20  # stacked 1 over n
    names = [heading.split()[0] for heading, _ in measured["columns"]]
    lefts = [left for _, left in measured["columns"]]
    assert names == ["numpy", "torch", "jax"] and lefts[0] < lefts[1] - 300 < lefts[2] - 600  # side by side
    assert min(measured["codeSizes"]) >= 13  # code set at 13 px or more
    assert measured["blankHeights"] and min(measured["blankHeights"]) > 10  # blank lines kept, a line high
    assert ["prev", "bp4.html"] in measured["navigation"] and ["next", "softmax.html"] in measured["navigation"]
    assert not re.search(r"\\(frac|sum|sigma|delta)|\$\$|\^\{", measured["text"])  # no raw TeX reaches the reader


@pytest.mark.parametrize("width", [80, 100, 140, 200])
def test_every_lesson_renders_at_every_width_and_nothing_is_cut(width):
    """Every line fits (a URL longer than the width stands alone), and every name of the code is whole."""
    for concept in CONCEPTS:
        text = lesson.lesson_text(concept, None, width=width)
        assert " ".join(concept.equation.splitlines()[0].split()) in " ".join(text.split())
        assert text.count("(reference/") + text.count("(torch_impl/") + text.count("(jax_impl/") >= len(concept.code)
        assert all(len(line) <= width or len(line.split()) == 1 for line in text.splitlines()), concept.name
        shown = set(re.findall(r"\w+", text))
        for part in lesson.parts_of(concept):
            for code in part.codes:
                assert set(re.findall(r"\w+", code.text)) <= shown, (concept.name, part.title, code.backend)


def test_the_terminal_marks_a_row_only_where_code_differs():
    text = lesson.lesson_text(BY_NAME["max-pooling"], None, width=250)
    init_rows = [line for line in text.splitlines() if "def __init__(self, size, ties):" in line]
    assert init_rows and all(not line.startswith("*") for line in init_rows)
    forward = next(line for line in text.splitlines() if "return _windows(u, self.size).max(axis=0)" in line)
    assert forward.startswith("* ") and "return F.max_pool2d(u, self.size)" in forward  # forward beside forward


def test_bp1_by_any_case(nndl, quick_mnist, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    result = nndl("lesson", "BP1")
    assert result.code == 0, result.err
    assert result.out.startswith("bp1: BP1: the error of the output layer")
    assert (
        "http://neuralnetworksanddeeplearning.com/chap2.html#the_four_fundamental_equations_behind_backpropagation"
        in result.out
    )
    assert "previous: dense  next: bp2" in result.out
    assert all(len(line) <= 100 or len(line.split()) == 1 for line in result.out.splitlines())
    assert "float64 rounds at 2.2e-16" in " ".join(result.out.split())


# -- the evidence, on each lesson's own point ----------------------------------------------------------


def test_max_pooling_shows_where_each_backend_sends_a_tied_gradient():
    backends, _ = evidence.installed_backends()
    first = {name: evidence.routed_gradient(backend, "first") for name, backend in backends.items()}
    every = {name: evidence.routed_gradient(backend, "all") for name, backend in backends.items()}
    for name in backends:
        np.testing.assert_array_equal(first[name], [[0.0, 1.0], [0.0, 0.0]], err_msg=name)  # the first 0.9 only
        np.testing.assert_array_equal(every[name], [[0.0, 1.0], [1.0, 0.0]], err_msg=name)  # both 0.9s, in full
    _, figures, _, passed = evidence.tied_window(backends)
    assert passed and "ties = 'first' (to the first maximum): numpy [[0, 1], [0, 0]]" in figures


def test_dropout_evidence_finds_the_same_mask_in_every_backend(mnist):
    found = evidence.measure(BY_NAME["dropout"], lambda: mnist)
    assert found.passed, found.sentences
    assert re.search(r"layer 2's input: \d+ of 30 live units dropped", found.figures)
    assert "are exactly the dropped units" in found.figures


@pytest.mark.parametrize(("name", "arrays"), [("bp3", "biases"), ("bp4", "weights")])
def test_bp3_and_bp4_check_their_own_arrays(mnist, name, arrays):
    found = evidence.measure(BY_NAME[name], lambda: mnist)
    assert found.passed and found.figures.startswith(f"The {arrays}' gradients")
    worst = float(re.search(r"worst difference between the backends (\S+) \(bound", found.figures)[1])
    assert 0 < worst < 1e-14
    assert found.what.startswith("a 784-30-30-10 net (30 sigmoid, 30 sigmoid, 10 sigmoid), cross-entropy cost")


def test_ci_installs_the_browser_then_runs_exactly_the_readmes_test_command():
    ci = (ROOT / ".ci/run").read_text().splitlines()
    readme = (ROOT / "README.md").read_text()
    assert "apt-get install -y -qq chromium" in "\n".join(ci)
    assert f"\n    {ci[-1]}\n" in readme.split("Run the tests:")[1][:200]


def test_no_lesson_writes_its_math_in_tex_braces():
    """The paragraphs are read as they are, in the terminal and on the site: W^(l+1), not w^{l+1}."""
    for concept in CONCEPTS:
        for text in (concept.look_for, concept.rules):
            assert not re.search(r"[\^_]\{|\\[a-z]+\{?", text), (concept.name, text)
