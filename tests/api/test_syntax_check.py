"""The upload's syntax check against CPython's compile, on a corpus of valid and invalid models.

ruff's parser answers for big models; it never refuses one itself, so every refusal must be CPython's own
(message and line), and what ruff accepts but CPython refuses must be the short known list that the
compile after the answer catches."""

from __future__ import annotations

import sysconfig
import warnings
from pathlib import Path

import pytest

from api.errors import ApiError
from api.syntax_check import ruff_finds_nothing
from api.uploads import IN_PROCESS_MAX_BYTES, check_model, stop_model_checker
from tests.stack import PROJECT_DIR

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
