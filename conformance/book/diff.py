"""Lining up the backends' code by role, and finding the words that differ within a line.

A line is read as tokens (Python's own `tokenize`): whitespace and indentation are not tokens, so
they never make two lines differ, and the words of docstrings and comments are prose, compared
apart from the code. Lines are paired by role:
- a line belongs to the function or method it is written in (its section): `fn` is set beside
  `fn`, `backward` beside `backward`, never a forward line beside a backward one;
- a lesson may declare lines that share a row although nothing in their text says so (an anchor:
  the reference's hand-written BP1 beside the autograd call that replaces it);
- otherwise lines pair where difflib finds them equal, or alike enough (SIMILAR), code with code
  and prose with prose. A line with no counterpart gets a row of its own.
Within a row, each line is compared with the first line of the row (the reference's where it has
one), and only the tokens that differ are marked.
"""

from __future__ import annotations

import ast
import difflib
import io
import re
import tokenize
from dataclasses import dataclass

SIMILAR = 0.6  # the likeness (difflib's ratio over tokens) above which two different lines share a row
SAME_ROLE = {"return", "def", "class"}  # statements that keep their role whatever follows them in the line
SKIPPED = {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}


@dataclass(frozen=True)
class Token:
    text: str
    start: int  # column in its line
    end: int
    prose: bool  # a word of a docstring or a comment, not code


@dataclass(frozen=True)
class Line:
    text: str
    tokens: tuple[Token, ...]
    section: str = ""  # the function or method the line is written in

    @property
    def code(self) -> tuple[str, ...]:
        return tuple(token.text for token in self.tokens if not token.prose)

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(token.text for token in self.tokens if token.prose)

    @property
    def kind(self) -> str:
        """ "blank", "code" (a line with any code token) or "prose" (a docstring's or comment's words only)."""
        return "blank" if not self.tokens else "code" if self.code else "prose"

    @property
    def key(self) -> tuple:
        """What two lines must share to be the same line: their section, code and words, not their spacing."""
        return self.section, self.code, self.words


# -- reading lines as tokens ----------------------------------------------------------------------


def read_lines(text: str, sections: dict[str, str] | None = None) -> list[Line]:
    """The lines of a definition's source as tokens, each with its section (renamed by `sections`)."""
    rows = text.splitlines()
    tokens = _tokens_by_line(text, rows)
    owner = _sections(text, len(rows), sections or {})
    return [Line(row, tuple(tokens[number]), owner[number]) for number, row in enumerate(rows)]


def _tokens_by_line(text: str, rows: list[str]) -> list[list[Token]]:
    found: list[list[Token]] = [[] for _ in rows]
    try:
        stream = [t for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type not in SKIPPED]
    except (tokenize.TokenError, SyntaxError):
        return [_plain_tokens(row) for row in rows]
    depth = 0  # how many brackets are open: a string inside one is an argument, not a docstring
    for place, token in enumerate(stream):
        prose = token.type == tokenize.COMMENT or (depth == 0 and _is_docstring(stream, place))
        if token.type == tokenize.OP and token.string in "([{":
            depth += 1
        elif token.type == tokenize.OP and token.string in ")]}":
            depth -= 1
        (start_row, start_col), (end_row, end_col) = token.start, token.end
        for row in range(start_row, end_row + 1):
            begin = start_col if row == start_row else 0
            end = end_col if row == end_row else len(rows[row - 1])
            piece = rows[row - 1][begin:end]
            if prose:
                found[row - 1] += [
                    Token(word.group(), begin + word.start(), begin + word.end(), True)
                    for word in re.finditer(r"\S+", piece)
                ]
            elif piece.strip():
                lead = len(piece) - len(piece.lstrip())
                found[row - 1].append(Token(piece.strip(), begin + lead, begin + len(piece.rstrip()), False))
    return found


def _is_docstring(stream, place: int) -> bool:
    """A string that is a statement of its own: a docstring (or a bare string, which documents too)."""
    token = stream[place]
    if token.type != tokenize.STRING:
        return False
    before = stream[place - 1] if place else None
    starts = before is None or before.end[0] < token.start[0] or before.string == ":"
    after = stream[place + 1] if place + 1 < len(stream) else None
    ends = after is None or after.start[0] > token.end[0] or after.type == tokenize.COMMENT
    return starts and ends


def _plain_tokens(row: str) -> list[Token]:
    """Words and punctuation, for text that Python's tokenizer cannot read."""
    return [Token(m.group(), m.start(), m.end(), False) for m in re.finditer(r"\w+|[^\w\s]", row)]


def _sections(text: str, count: int, renamed: dict[str, str]) -> list[str]:
    """Per line, the top-level function or the method it belongs to ('' outside any); a class's own
    lines belong to the class. Blank lines before a definition belong to it."""
    owner = [""] * count
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return owner
    spans = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            spans.append((node.lineno, node.name))
            spans += [(_first_line(item), item.name) for item in node.body if isinstance(item, ast.FunctionDef)]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            spans.append((_first_line(node), node.name))
        else:
            spans.append((node.lineno, ""))
    starts = sorted(spans)
    for (first, name), following in zip(starts, [*starts[1:], (count + 1, "")]):
        for number in range(first - 1, following[0] - 1):
            owner[number] = renamed.get(name, name)
    rows = text.splitlines()
    for number in range(count - 2, -1, -1):  # a blank line goes with the definition after it
        if not rows[number].strip():
            owner[number] = owner[number + 1]
    return owner


def _first_line(node) -> int:
    return min([node.lineno] + [decorator.lineno for decorator in node.decorator_list])


# -- pairing lines --------------------------------------------------------------------------------


def likeness(a: Line, b: Line) -> float:
    """How alike two lines are, 0 to 1; 0 across sections or across kinds (code, prose, blank)."""
    if a.section != b.section or a.kind != b.kind:
        return 0.0
    if a.kind == "blank":
        return SIMILAR
    left, right = (a.code, b.code) if a.kind == "code" else (a.words, b.words)
    ratio = difflib.SequenceMatcher(None, left, right, autojunk=False).ratio()
    if a.kind == "code" and (left[0] == right[0] in SAME_ROLE or left[:2] == right[:2] == (left[0], "=")):
        return max(ratio, SIMILAR)  # a return, a def, or a name set, in the same function: the same role
    return ratio


def pair_lines(a: list[Line], b: list[Line], anchors=()) -> list[tuple[int | None, int | None]]:
    """(line of a, line of b) in order, None where one side has no counterpart. `anchors` are
    (i, j) pairs that must share a row; between them, lines pair by `pair_freely`."""
    pairs, i, j = [], 0, 0
    for anchor_i, anchor_j in [*sorted(anchors), (len(a), len(b))]:
        if anchor_i < i or anchor_j < j:
            continue  # an anchor out of order with an earlier one is dropped
        pairs += [_shifted(pair, i, j) for pair in pair_freely(a[i:anchor_i], b[j:anchor_j])]
        if anchor_i < len(a) and anchor_j < len(b):
            pairs.append((anchor_i, anchor_j))
        i, j = anchor_i + 1, anchor_j + 1
    return pairs


def _shifted(pair: tuple[int | None, int | None], i: int, j: int) -> tuple[int | None, int | None]:
    return (None if pair[0] is None else pair[0] + i, None if pair[1] is None else pair[1] + j)


def pair_freely(a: list[Line], b: list[Line]) -> list[tuple[int | None, int | None]]:
    """Equal runs (by key: spacing ignored) pair line by line; inside a run that differs, the pairs
    of lines at least SIMILAR alike with the greatest total likeness. The rest stand alone, a's
    before b's."""
    pairs = []
    matcher = difflib.SequenceMatcher(None, [line.key for line in a], [line.key for line in b], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            pairs += [(i1 + d, j1 + d) for d in range(i2 - i1)]
            continue
        i, j = i1, j1
        for anchor_i, anchor_j in [*_alike_pairs(a[i1:i2], b[j1:j2], i1, j1), (i2, j2)]:
            pairs += [(k, None) for k in range(i, anchor_i)] + [(None, k) for k in range(j, anchor_j)]
            if anchor_i < i2:
                pairs.append((anchor_i, anchor_j))
            i, j = anchor_i + 1, anchor_j + 1
    return pairs


def _alike_pairs(a: list[Line], b: list[Line], i0: int, j0: int) -> list[tuple[int, int]]:
    """The pairs (i, j), increasing in both, of lines at least SIMILAR alike with the greatest total likeness."""
    score = [[0.0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) - 1, -1, -1):
        for j in range(len(b) - 1, -1, -1):
            alike = likeness(a[i], b[j])
            paired = score[i + 1][j + 1] + alike if alike >= SIMILAR else -1.0
            score[i][j] = max(paired, score[i + 1][j], score[i][j + 1])
    pairs, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        if score[i][j] == score[i + 1][j]:
            i += 1
        elif score[i][j] == score[i][j + 1]:
            j += 1
        else:
            pairs.append((i0 + i, j0 + j))
            i, j = i + 1, j + 1
    return pairs


def merge(columns: list[list[Line]], anchors: list[list[tuple[int, int]]] | None = None) -> list[tuple]:
    """Rows of lines (None where a column has none), the first column's lines in order, each other
    column's paired line beside it. The lines the others have between two of the first column's
    are merged the same way among themselves, the first of them that has any leading."""
    if not columns:
        return []
    first, others = columns[0], columns[1:]
    anchors = anchors or [[] for _ in others]
    if not first:
        leading = next((k for k, lines in enumerate(others) if lines), None)
        if leading is None:
            return []
        rest = [lines for k, lines in enumerate(others) if k != leading]
        return [(None, *_reorder(row, leading)) for row in merge([others[leading], *rest])]
    beside = [[None] * len(first) for _ in others]
    before = [[[] for _ in range(len(first) + 1)] for _ in others]
    for k, lines in enumerate(others):
        following, waiting = len(first), []
        for i, j in reversed(pair_lines(first, lines, anchors[k])):
            if i is None:
                waiting.append((following, lines[j]))
            else:
                following = i
                if j is not None:
                    beside[k][i] = lines[j]
        for i, line in reversed(waiting):
            before[k][i].append(line)
    rows = []
    for i in range(len(first) + 1):
        rows += [(None, *row) for row in merge([group[i] for group in before])]
        if i < len(first):
            rows.append((first[i], *(column[i] for column in beside)))
    return rows


def _reorder(row: tuple, leading: int) -> tuple:
    """A row merged with column `leading` first, put back in the columns' order."""
    cells = list(row[1:])
    cells.insert(leading, row[0])
    return tuple(cells)


# -- what differs within a row --------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    line: Line | None
    changed: tuple[Token, ...] = ()  # code tokens that differ from the line this one is compared with
    reworded: tuple[Token, ...] = ()  # prose words that differ
    alone: bool = False  # no other column has a line on this row

    @property
    def status(self) -> str:
        """ "empty", "blank", "differs" (code that differs, or code no other column has), "reworded"
        (prose that differs, or prose no other column has) or "same"."""
        if self.line is None:
            return "empty"
        kind = self.line.kind
        if kind == "blank":
            return "blank"
        if self.changed or (self.alone and kind == "code"):
            return "differs"
        if self.reworded or self.alone:
            return "reworded"
        return "same"


def compare(row: tuple[Line | None, ...], first_column_shown: bool = True) -> tuple[Cell, ...]:
    """The row's cells, each line compared with the row's first line; the first line's own tokens are
    marked only where they differ from every other line on the row. A line with nothing beside it is
    alone, and so is every line of a row without the first column's, where that column has code."""
    present = [k for k, line in enumerate(row) if line is not None]
    if len(present) <= 1:
        return tuple(Cell(line, alone=line is not None) for line in row)
    base = row[present[0]]
    alone = present[0] > 0 and first_column_shown
    cells = [Cell(line) for line in row]
    marked_in_every = set(base.tokens)
    for k in present[1:]:
        mine, theirs = _changed_tokens(base, row[k])
        cells[k] = _marked(row[k], theirs, alone)
        marked_in_every &= set(mine)
    cells[present[0]] = _marked(base, [t for t in base.tokens if t in marked_in_every], alone)
    return tuple(cells)


def _marked(line: Line, tokens: list[Token], alone: bool) -> Cell:
    return Cell(line, tuple(t for t in tokens if not t.prose), tuple(t for t in tokens if t.prose), alone)


def _changed_tokens(a: Line, b: Line) -> tuple[list[Token], list[Token]]:
    """The tokens of a and of b outside what they share, code and prose compared apart."""
    changed_a, changed_b = [], []
    for prose in (False, True):
        left = [t for t in a.tokens if t.prose == prose]
        right = [t for t in b.tokens if t.prose == prose]
        matcher = difflib.SequenceMatcher(None, [t.text for t in left], [t.text for t in right], autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag != "equal":
                changed_a += left[i1:i2]
                changed_b += right[j1:j2]
    return changed_a, changed_b
