"""The upload's syntax check against CPython's compile, on a corpus of valid and invalid models.

ruff's parser answers for big models; it never refuses one itself, so every refusal must be CPython's own
(message and line), and what ruff accepts but CPython refuses must be the short known list that the
compile after the answer catches."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import re
import sys
import sysconfig
import warnings
from pathlib import Path

import psutil
import pytest

from api import syntax_check
from api.errors import ApiError
from api.syntax_check import _row_end_after, _ruff_finds_nothing_in_all, ruff_finds_nothing, shapes_find_nothing, table_parts
from api.uploads import IN_PROCESS_MAX_BYTES, check_model, stop_model_checker
from harness.stack import PROJECT_DIR

STDLIB = Path(sysconfig.get_paths()["stdlib"])
LIMIT = 10 * 1024 * 1024

VALID = {
    'star_in_index_311': 'a[*b]\n',
    'except_star_311': 'try:\n    pass\nexcept* ValueError:\n    pass\n',
    'continue_in_finally': 'for x in y:\n    try:\n        pass\n    finally:\n        continue\n',
    'parenthesized_with': 'with (open(a) as f, open(b) as g):\n    pass\n',
    'soft_keyword': 'match = 1\ncase = 2\n_ = 3\ntype = 4\n',
    'ann_starred_ok_311': 'def f(*args: *Ts): pass\n',
    'ellipsis': '...\n',
    'non_utf_ident': 'café = 1\nπ = 2\n',
    'cr_only': 'x = 1\ry = 2\r',
    'bom': '\ufeffprint(1)\n',
    'from_relative': 'from . import x\n',
    'for_starred_target': 'for *a, b in c: pass\n',
    'global_at_module': 'global x\n',
    'return_at_module_in_lambda': 'f = lambda: (yield)\n',
    'star_expr_subscript_assign': 'a[*b] = 1\n',
    'chained_comparison': 'a < b < c\n',
    'print_fn': "print('x', end='')\n",
    'decorator_expr': '@a[0].b(1)\ndef f(): pass\n',
    'invalid_octal_escape_warn': "x = '\\777'\n",
    'invalid_escape_warn': "x = '\\d'\n",
    'nested_fstring': 'x = f\'{f"{a}"}\'\n',
    'fstring_format_spec': "x = f'{a:{b}>10}'\n",
    "many_args": "f(" + ",".join(f"a{i}" for i in range(300)) + ")\n",
    "nested_99_levels": "".join("    " * i + "if x:\n" for i in range(99)) + "    " * 99 + "pass\n",
}

INVALID = {
    'unclosed_paren_eof': 'x = 1\nprint(len(x)\n',
    'def_colon': '"""doc"""\nimport json\n\ndef main(:\n    print(1)\n',
    'return_outside': 'x = 1\nreturn x\n',
    'yield_outside': 'yield 1\n',
    'await_outside': 'await x\n',
    'break_outside': 'x = 1\nbreak\n',
    'continue_outside': 'continue\n',
    'nonlocal_module': 'nonlocal x\n',
    'nonlocal_nobinding': 'def f():\n    nonlocal x\n',
    'dup_arg': 'def f(a, a):\n    pass\n',
    'global_param': 'def f(a):\n    global a\n',
    'global_after_use': 'def f():\n    print(a)\n    global a\n',
    'yield_in_comp': 'def f():\n    return [(yield x) for x in y]\n',
    'walrus_comp_rebind': '[i := 0 for i in range(3)]\n',
    'async_gen_return': 'async def f():\n    yield 1\n    return 2\n',
    'assign_debug': '__debug__ = 1\n',
    'import_star_func': 'def f():\n    from os import *\n',
    'async_with_outside': 'def f():\n    async with x:\n        pass\n',
    'async_for_outside': 'def f():\n    async for i in x:\n        pass\n',
    'async_comp_outside': 'def f():\n    return [i async for i in x]\n',
    'two_starred': '*a, *b = c\n',
    'starred_alone': '*a = b\n',
    'starred_expr': 'x = *a\n',
    'match_capture_unreachable': 'match x:\n    case y:\n        pass\n    case 1:\n        pass\n',
    'match_wildcard_unreachable': 'match x:\n    case _:\n        pass\n    case 1:\n        pass\n',
    'match_dup_name': 'match x:\n    case [a, a]:\n        pass\n',
    'kw_repeated': 'f(a=1, a=2)\n',
    'pos_after_kw': 'f(a=1, 2)\n',
    'default_except_last': 'try:\n    pass\nexcept:\n    pass\nexcept ValueError:\n    pass\n',
    'bytes_nonascii': "x = b'é'\n",
    'bad_unicode_name': "x = '\\N{NO SUCH NAME}'\n",
    'bad_x_escape': "x = '\\x1'\n",
    'future_late': 'import os\nfrom __future__ import annotations\n',
    'future_unknown': 'from __future__ import nonsense\n',
    'future_braces': 'from __future__ import braces\n',
    'invalid_decimal': 'x = 1_000_\n',
    'leading_zero': 'x = 0123\n',
    'indent_error': 'def f():\npass\n',
    'unexpected_indent': 'x = 1\n    y = 2\n',
    'unindent_mismatch': 'if x:\n        a = 1\n    b = 2\n',
    'tab_space': 'if x:\n\ta = 1\n        b = 2\n',
    'assign_literal': '1 = x\n',
    'assign_call': 'f() = 1\n',
    'del_literal': 'del 1\n',
    'augassign_tuple': 'a, b += 1\n',
    'lambda_default_order': 'f = lambda a=1, b: 0\n',
    'def_default_order': 'def f(a=1, b):\n    pass\n',
    'py2_print': "print 'x'\n",
    'py2_exec': "exec 'x'\n",
    'fstring_nested_same_quote_311': 'x = f"{d["a"]}"\n',
    'fstring_backslash_311': 'x = f\'{"\\n".join(a)}\'\n',
    'fstring_empty_expr': "x = f'{}'\n",
    'fstring_comment_311': "x = f'''{a # c\n}'''\n",
    'type_alias_311': 'type X = int\n',
    'generic_def_311': 'def f[T](x: T) -> T:\n    return x\n',
    'unterminated_string': "x = 'abc\ny = 1\n",
    'unterminated_triple': "x = '''abc\ny = 1\n",
    'eof_in_bracket_mid': 'x = [1,\n2,\n3\ny = 4\n',
    'unmatched_close': 'x = 1)\n',
    'mismatched': 'x = (1]\n',
    'walrus_at_stmt': 'x := 1\n',
    'walrus_in_class_comp': 'class C:\n    [(y := 1) for x in z]\n',
    'except_star_bare': 'try:\n    pass\nexcept*:\n    pass\n',
    'return_in_class': 'class C:\n    return 1\n',
    'yield_in_class': 'class C:\n    yield 1\n',
    'await_in_sync': 'def f():\n    await x\n',
    'keyword_as_name': 'class = 1\n',
    'global_annotated': 'def f():\n    global x\n    x: int = 1\n',
    'annotated_nonlocal': 'def f():\n    x = 1\n    def g():\n        nonlocal x\n        x: int = 2\n',
    'ann_tuple': 'a, b: int\n',
    'star_annotation_return': 'def f() -> *T: pass\n',
    'named_expr_in_iter': '[x for x in (y := [1])]\n',
    'line_continuation_eof': 'x = 1 + \\\n',
    'backslash_bad': 'x = 1 \\ 2\n',
    'invalid_char': 'x = 1 $ 2\n',
    'nonprintable': 'x = 1\x0c\x0b\n',
    'bad_ident': 'x€ = 1\n',
    'dict_unpack_in_list': '[**a]\n',
    'gen_unparenthesized': 'f(x for x in y, 1)\n',
    'try_no_except': 'try:\n    pass\nx = 1\n',
    'else_without_if': 'else:\n    pass\n',
    'empty_body': 'def f():\n# c\n',
    'from_import_trailing_comma': 'from os import path,\n',
    'class_kw_dup': 'class C(metaclass=A, metaclass=B): pass\n',
    'lambda_starred_default': 'lambda *: 0\n',
    'bare_star_param': 'def f(*): pass\n',
    'slash_twice': 'def f(a, /, b, /): pass\n',
    'del_starred': 'del *a\n',
    'comp_assign': '[x for x in y] = 1\n',
    'await_in_comp_sync': 'def f():\n    return [await x for x in y]\n',
    'yield_in_genexp': 'def f():\n    return list((yield x) for x in y)\n',
    'cannot_delete_fcall': 'del f()\n',
    'assign_to_keyword_arg': 'f(True=1)\n',
    'assign_none': 'None = 1\n',
    'for_target_literal': 'for 1 in x: pass\n',
    'with_target_literal': 'with a as 1: pass\n',
    'import_as_dotted': 'import a.b as c.d\n',
    'fstring_conversion_bad': "x = f'{a!z}'\n",
    'fstring_single_brace': "x = f'}'\n",
    'fstring_unclosed_brace': "x = f'{a'\n",
    'class_pattern_dup_kw': 'match x:\n    case C(a=1, a=2):\n        pass\n',
    'mapping_key_dup': "match x:\n    case {'a': 1, 'a': 2}:\n        pass\n",
    'mapping_key_name': 'match x:\n    case {a: 1}:\n        pass\n',
    'or_pattern_diff_names': 'match x:\n    case [a] | [b]:\n        pass\n',
    'star_in_pattern_twice': 'match x:\n    case [*a, *b]:\n        pass\n',
    'complex_pattern_bad': 'match x:\n    case 1 + 1:\n        pass\n',
    "too_deep_parens": "x = " + "(" * 250 + "1" + ")" * 250 + "\n",
    "too_deep_indent": "".join("    " * i + "if x:\n" for i in range(101)) + "    " * 101 + "pass\n",
    "too_many_nested_blocks": "".join("    " * i + "for x in y:\n" for i in range(21)) + "    " * 21 + "pass\n",
    "int_over_4300_digits": "x = " + "9" * 5000 + "\n",
}

# What ruff's parser and the rules it is run with accept and CPython's compile refuses: these are answered
# 201 and marked invalid once the compile after the answer refuses them (tests/api/test_big_uploads.py).
RUFF_MISSES = {"annotated_nonlocal", "async_gen_return", "too_deep_parens", "too_deep_indent", "too_many_nested_blocks",
               "int_over_4300_digits"}

VALID_FILES = [*sorted((PROJECT_DIR / "samples").glob("*.py")), *sorted((PROJECT_DIR / "api").glob("*.py")),
               *(STDLIB / name for name in ("typing.py", "argparse.py", "dataclasses.py", "enum.py", "inspect.py", "_pydecimal.py",
                                            "asyncio/base_events.py", "email/message.py", "json/decoder.py"))]
VALID_FILES = [path for path in VALID_FILES if path.name != "broken_syntax.py"]


@pytest.fixture(scope="module", autouse=True)
def _checker_process():
    yield
    stop_model_checker()


def cpython_error(data: bytes) -> SyntaxError | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes warn, they are not errors
            compile(data, "model.py", "exec", dont_inherit=True)
    except SyntaxError as exc:
        return exc
    return None


def big(snippet: str) -> bytes:
    """The snippet after enough comment lines to take the big-model path (ruff first)."""
    padding = b"# padding\n" * (IN_PROCESS_MAX_BYTES // 10 + 1)
    return padding + snippet.encode()


@pytest.mark.parametrize("name", sorted(VALID))
async def test_ruff_and_cpython_accept_valid_code(name):
    data = VALID[name].encode()
    assert cpython_error(data) is None
    assert await ruff_finds_nothing(data, timeout_s=30)


@pytest.mark.parametrize("path", VALID_FILES, ids=lambda path: path.name)
async def test_ruff_and_cpython_accept_real_modules(path):
    data = path.read_bytes()
    assert cpython_error(data) is None
    assert await ruff_finds_nothing(data, timeout_s=30)


@pytest.mark.parametrize("name", sorted(set(INVALID) - RUFF_MISSES))
async def test_a_refused_big_model_gets_cpythons_message_and_line(name):
    data = big(INVALID[name])
    expected = cpython_error(data)
    assert expected is not None
    with pytest.raises(ApiError) as refused:
        await check_model("model.py", data, LIMIT)
    assert refused.value.status_code == 422
    assert refused.value.details["line"] == expected.lineno
    assert refused.value.error == f"syntax error on line {expected.lineno}: {expected.msg}"


@pytest.mark.parametrize("name", sorted(RUFF_MISSES))
async def test_what_ruff_misses_is_answered_unconfirmed(name):
    data = big(INVALID[name])
    assert cpython_error(data) is not None
    checked = await check_model("model.py", data, LIMIT)
    assert not checked.confirmed


# A big model's table is read by several ruff processes at once (api/syntax_check.py `table_parts`): the parts
# may only find nothing where ruff finds nothing in the whole model.

def table_model(rows: int = 300, head: str = '"""A model with its data inline."""\nimport math\n\n', tail: str = "\nprint(len(TABLE))\n") -> bytes:
    tricky = '"a, b # ] ["'  # brackets and a comment sign in a string: a row, never a place to cut
    body = "".join(f"    ({i}, {i * 0.25}, 'block-{i % 96:02d}', [{i}, {{'k': ({i},)}}], {tricky if i % 7 == 3 else None}),\n" for i in range(rows))
    return f"{head}TABLE = [\n{body}]\n{tail}".encode()


async def parts_find_nothing(data: bytes, parts: int) -> bool | None:
    """None: not cut. Otherwise whether ruff finds nothing in every part."""
    inputs = table_parts(data, parts)
    return None if inputs is None else await _ruff_finds_nothing_in_all(inputs, timeout_s=30)


async def test_a_big_table_is_read_in_parts_that_find_nothing():
    data = table_model()
    inputs = table_parts(data, 3)
    assert inputs is not None and len(inputs) == 4  # H + "0]", H + T, two pieces of R
    assert sum(len(piece) for piece in inputs[1][1:]) + sum(len(part[1]) for part in inputs[2:]) == len(data) - len(inputs[0][0])
    assert await parts_find_nothing(data, 3)


@pytest.mark.parametrize("data", [
    table_model(head="X = 1 +\\\n"),                                             # the table line continues another
    table_model().replace(b"\n    (150,", b"\n(150,"),                         # a row at column 0
    b"x = [1, 2]\n" + table_model().replace(b"TABLE = [\n", b"TABLE = [1,\n"),  # no `NAME = [` line alone
    table_model(rows=2),
], ids=["continued", "column_zero_row", "no_table_line", "too_short"])
async def test_what_is_not_cut_or_not_clean_is_read_whole(data):
    whole = await _ruff_finds_nothing_in_all([[data]], timeout_s=30)
    assert await parts_find_nothing(data, 3) in (None, False) or whole
    assert await ruff_finds_nothing(data, timeout_s=30) == whole


FRAGMENTS = ["(", ")", "[", "]", "{", "}", "'", '"', "'''", '"""', "#", "\\", ",", ",,", ":", "=", "*", "**", "not ", "if ",
             "lambda ", "yield 1,", "await x,", "(yield),", "\n", "\nx = 1\n", "]\nY = [\n", "], [", "] [", "],\n", "1 ", "f'{",
             "\t", "    1,\n", "*a, ", "x := 1, ", "0123", "b'é'", "\\N{NO}", "1 = 2", "return", "from __future__ import annotations\n"]


# Two changes that only together make H + T parse while the whole model does not: an opened bracket or a
# string in the table's first row closed where T starts (only H + "0]" shows H ends inside the list alone),
# or rows that close the table and open another in a statement that T's continuation does not fit.
PAIRS = [(("f(k=", "first row"), (")", "tail start")), (("(", "first row"), (")", "tail start")), (("x[", "first row"), ("]", "tail start")),
         (("{", "first row"), ("}", "tail start")), (('"""', "first row"), ('"""', "tail start")),
         (("]\nA: [\n", "mid piece"), (", [4]", "table end")), (("]\nfor A in [\n", "mid piece"), (":\n    pass", "table end")),
         (("]\ndel [\n", "mid piece"), (", 1", "table end")), (("]\nA = [\n", "mid piece"), (" = v", "table end"))]


async def test_the_parts_never_accept_what_the_whole_model_refuses():
    base = table_model(rows=60)
    inputs = table_parts(base, 3)
    head_end = len(inputs[0][0])
    cut_ends = list(itertools.accumulate((len(part[1]) for part in inputs[2:]), initial=head_end))
    first_row = base.rfind(b"\n", 0, head_end - 1) + 1
    positions = {"first row": first_row, "in first row": head_end - 10, "table line": first_row - 2, "tail": len(base) - 3,
                 "tail start": cut_ends[-1], "table end": base.rindex(b"]\n") + 1, "mid piece": base.rfind(b"\n", 0, (cut_ends[0] + cut_ends[1]) // 2) + 1}
    for k, cut in enumerate(cut_ends):
        positions |= {f"before cut {k}": cut - 2, f"at cut {k}": cut, f"after cut {k}": cut + 5}
    accepted_in_parts, wrongly, cases = await _changed_tables(base, positions, FRAGMENTS, PAIRS, _both_verdicts)
    assert not wrongly
    assert len(accepted_in_parts) >= 20  # the parts do answer for changed tables, not only refuse them
    assert len(accepted_in_parts) < cases // 2


async def _changed_tables(base: bytes, positions: dict[str, int], fragments: list[str], pairs: list, verdicts) -> tuple[list[str], list[str], int]:
    """`base` changed by each fragment at each position and by each pair: the changes the quick check accepted,
    those of them ruff refuses in the whole model, and how many changes there were."""
    changes = [[(fragment, where)] for fragment in fragments for where in positions] + [list(pair) for pair in pairs]
    cases = [(repr(change), _inserted(base, [(positions[where], fragment) for fragment, where in change])) for change in changes]
    outcomes = await asyncio.gather(*(verdicts(data) for _, data in cases))
    accepted = [name for (name, _), (quick, whole) in zip(cases, outcomes) if quick]
    return accepted, [name for (name, _), (quick, whole) in zip(cases, outcomes) if quick and not whole], len(cases)


def _inserted(data: bytes, insertions: list[tuple[int, str]]) -> bytes:
    for at, fragment in sorted(insertions, reverse=True):
        data = data[:at] + fragment.encode(errors="surrogateescape") + data[at:]
    return data


@pytest.mark.parametrize(("lines", "cut_after"), [
    (["    (1, 2),", "    (3, 4),"], 1),
    (["    not  # ,", "    x := 1,"], 2),     # the comma is in a comment: the row goes on
    (["    (1, 2)", "    ,"], 2),
    (["    '#',", "    (3, 4),"], 2),       # a `#` may be in a string, but the line is not read that closely
    (["    (1, 2),  ", "    3,"], 1),        # trailing blanks
], ids=["row", "comment", "comma_next_line", "hash_in_string", "trailing_blank"])
def test_a_table_is_cut_only_after_a_line_ending_in_a_comma(lines, cut_after):
    data = "\n".join(lines).encode() + b"\n"
    assert _row_end_after(data, 0, 5) == len("\n".join(lines[:cut_after])) + 1


_ruff_turns = asyncio.Semaphore(4)


# A table whose rows repeat a few shapes is read one shape each (api/syntax_check.py `shapes_find_nothing`):
# the shapes too may only find nothing where ruff finds nothing in the whole model.

def shaped_model(rows: int = 400) -> bytes:
    body = "".join(f"    ({i}, {i * 0.25:.2f}, 'block-{i % 96:02d}', [{i % 7}, {{'k': ({i},)}}], None, -{i}e-3),\n" for i in range(rows))
    return f'"""A model with its data inline."""\nimport math\n\nTABLE = [\n{body}    (0, 0.0, "last", [], None, 1)\n]\nprint(len(TABLE))\n'.encode()


async def test_a_table_of_few_shapes_is_read_by_its_shapes():
    data = shaped_model(rows=20_000)
    assert len(data) > syntax_check.SPLIT_MIN_BYTES
    assert await shapes_find_nothing(data, timeout_s=30) is True
    assert await ruff_finds_nothing(data, timeout_s=30) and cpython_error(data) is None


@pytest.mark.parametrize("data", [
    shaped_model().replace(b"'block-01'", b"'a\\'b'"),         # a backslash
    shaped_model().replace(b"'block-01'", b"'''x'''"),         # triple quotes
    shaped_model().replace(b"'block-01'", b"'x\ry'"),          # a lone CR
    shaped_model().replace(b"'block-01'", b"'\xff'"),          # not UTF-8
    shaped_model().replace(b"'block-01'", b"'#', 2"),          # a comment sign on a line with quotes
    shaped_model().replace(b", None, -1e-3),", b", None, -1e-3)"),  # a row without its comma
    shaped_model().replace(b"[1, {'k'", b"[0b1, {'k'"),        # a binary number
], ids=["backslash", "triple_quotes", "lone_cr", "not_utf8", "hash_and_quotes", "no_comma", "binary"])
async def test_rows_that_are_not_read_by_shape_are_left_to_the_parts(data):
    assert await shapes_find_nothing(data, timeout_s=30) is None


SHAPE_FRAGMENTS = [*FRAGMENTS, "007", "0b12", "0B2", "0o78", "0O7", "1__0", "1_", "09.5", "00", "0_0", "1e09", "0x1g", "1if 1else 2",
                   "\r", "\x00", "é", "\udcff", "# c", "'#'", "1 # ,", "0j", "08", "-0", "1.e5", ".5", "5.", "0.0e0", "x1", "r'\\'",
                   "    not\n    lambda: 1,\n"]  # each line alone is fine before "0]"; together they are not


async def test_the_shapes_never_accept_what_the_whole_model_refuses():
    base = shaped_model(rows=60)
    rows = [m.start() + 1 for m in re.finditer(rb"\n    \(", base)]
    positions = {"row start": rows[0] + 4, "in row": rows[10] + 5, "row end": base.index(b"\n", rows[20]) - 1,
                 "after row": base.index(b"\n", rows[30]) + 1, "last row": rows[-1] + 6, "first row": rows[0] - 1,
                 "table end": base.rindex(b"]\n") + 1, "tail": len(base) - 3}
    accepted_by_shapes, wrongly, cases = await _changed_tables(base, positions, SHAPE_FRAGMENTS, SHAPE_PAIRS, _shape_and_whole_verdicts)
    assert not wrongly
    assert len(accepted_by_shapes) >= 30  # the shapes do answer for changed tables, not only refuse them
    assert len(accepted_by_shapes) < cases // 2


# A bracket opened in one row and closed in another, a string across rows: each row's shape is read alone.
SHAPE_PAIRS = [(("(", "in row"), (")", "after row")), (("[", "row start"), ("],", "after row")), (("f(", "in row"), (")", "last row")),
               (("{", "row start"), ("}", "after row")), (("(1,", "after row"), ("2)", "last row")), (("'", "in row"), ("'", "row end"))]


async def _shape_and_whole_verdicts(data: bytes) -> tuple[bool | None, bool]:
    async with _ruff_turns:
        return await shapes_find_nothing(data, timeout_s=30), await _ruff_finds_nothing_in_all([[data]], timeout_s=30)


async def _both_verdicts(data: bytes) -> tuple[bool | None, bool]:
    async with _ruff_turns:
        return await parts_find_nothing(data, 3), await _ruff_finds_nothing_in_all([[data]], timeout_s=30)


def _ruff_stand_in(monkeypatch, script: str) -> None:
    """ruff replaced by a Python script, for what ruff itself never does on cue: hang, crash."""
    monkeypatch.setattr(syntax_check, "ruff_command", lambda: [sys.executable, "-c", script])


HANG = "import time; time.sleep(60)"


def _hanging_stand_ins() -> list[psutil.Process]:
    """Stand-ins still running (the model checker, another child of this process, is not one)."""
    alive = []
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.NoSuchProcess):  # one that ends meanwhile is not running
            if child.status() != psutil.STATUS_ZOMBIE and HANG in child.cmdline():
                alive.append(child)
    return alive


async def test_a_ruff_that_hangs_is_killed_at_the_timeout_and_decides_nothing(monkeypatch, caplog):
    _ruff_stand_in(monkeypatch, HANG)
    assert not await syntax_check.ruff_finds_nothing(b"x = 1\n", timeout_s=0.5)
    assert "ruff took over" in caplog.text
    assert _hanging_stand_ins() == []


async def test_an_upload_refused_meanwhile_kills_its_ruff(monkeypatch):
    _ruff_stand_in(monkeypatch, HANG)
    check = asyncio.create_task(syntax_check.ruff_finds_nothing(b"x = 1\n", timeout_s=30))
    async with asyncio.timeout(20):  # bounds a hang only: the check starts its ruff
        while not _hanging_stand_ins():
            await asyncio.sleep(0.05)
    assert len(_hanging_stand_ins()) == 1
    check.cancel()
    with pytest.raises(asyncio.CancelledError):
        await check
    assert _hanging_stand_ins() == []


async def test_a_ruff_that_fails_decides_nothing_and_its_message_is_logged(monkeypatch, caplog):
    _ruff_stand_in(monkeypatch, "import sys; sys.stdin.buffer.read(); sys.exit('ruff: internal error')")
    assert not await syntax_check.ruff_finds_nothing(b"x = 1\n", timeout_s=30)
    assert "ruff failed (exit 1" not in caplog.text  # exit 1 means a finding, not a failure
    _ruff_stand_in(monkeypatch, "import sys; sys.stdin.buffer.read(); sys.stderr.write('ruff: internal error'); sys.exit(2)")
    assert not await syntax_check.ruff_finds_nothing(b"x = 1\n", timeout_s=30)
    assert "ruff failed (exit 2: ruff: internal error)" in caplog.text


async def test_ruff_reads_every_byte_it_is_given(monkeypatch):
    """The verdict is ruff's on the whole input: a stand-in that accepts only the exact bytes it was meant to read."""
    data = table_model()
    expected = hashlib.sha256(data).hexdigest()
    _ruff_stand_in(monkeypatch, f"import hashlib, sys; sys.exit(0 if hashlib.sha256(sys.stdin.buffer.read()).hexdigest() == {expected!r} else 1)")
    assert await syntax_check._ruff_finds_nothing_in_all([[data[:1000], memoryview(data)[1000:]]], timeout_s=30)
    assert not await syntax_check._ruff_finds_nothing_in_all([[data[:-1]]], timeout_s=30)


async def test_without_pidfds_a_thread_waits_for_ruff(monkeypatch):
    def no_pidfds(pid: int) -> int:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(syntax_check.os, "pidfd_open", no_pidfds)
    assert await syntax_check.ruff_finds_nothing(b"x = 1\n", timeout_s=30)
    assert not await syntax_check.ruff_finds_nothing(b"x = (\n", timeout_s=30)
