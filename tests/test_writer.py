"""bridge.t7.writer: Torch7's format written back, checked byte by byte.

Expected bytes are spelt out from torch7's File.lua and THDiskFile.c; the
fixtures Torch wrote must come back identical after a load.
"""

from __future__ import annotations

import io
import struct
import tempfile
from pathlib import Path
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.t7 import Table, TorchFunction, TorchObject, load
from bridge.t7.writer import Mode, dump, dumps, storage, tensor_view

FIXTURES = Path(__file__).parent / "fixtures"
T7_FILES = sorted(p.name for p in FIXTURES.glob("*.t7"))


def ints(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}i", *values)


def longs(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}q", *values)


def number(value: float) -> bytes:
    return ints(1) + struct.pack("<d", value)


def chars(raw: bytes) -> bytes:
    return ints(len(raw)) + raw


def string(raw: bytes) -> bytes:
    return ints(2) + chars(raw)


def header(index: int, torch_class: bytes) -> bytes:
    return ints(4, index) + chars(b"V 1") + chars(torch_class)


@pytest.mark.parametrize("name", T7_FILES)
def test_dumps_fixture_round_trip_is_byte_for_byte(name: str) -> None:
    data = (FIXTURES / name).read_bytes()

    assert dumps(load(FIXTURES / name), long_size=8) == data


def test_dumps_nil_number_boolean_string() -> None:
    assert dumps(None) == ints(0)
    assert dumps(2.5) == number(2.5)
    assert dumps(3) == number(3.0)
    assert dumps(np.float32(0.5)) == number(0.5)
    assert dumps(True) == ints(5, 1)
    assert dumps(False) == ints(5, 0)
    assert dumps("héllo") == ints(2, 6) + "héllo".encode()
    assert dumps(b"\xff\x00") == ints(2, 2) + b"\xff\x00"
    assert dumps("") == ints(2, 0)


def test_dumps_table_entries_in_their_order() -> None:
    table = Table({"a": 1, 2: "b"})

    assert dumps(table) == (
        ints(3, 1, 2) + string(b"a") + number(1) + number(2) + string(b"b")
    )


def test_dumps_list_keyed_from_one_without_nil_values() -> None:
    assert dumps(["x", None, True]) == (
        ints(3, 1, 2) + number(1) + string(b"x") + number(3) + ints(5, 1)
    )


def test_dumps_same_table_twice_is_a_reference() -> None:
    inner = Table()

    assert dumps([inner, inner]) == (
        ints(3, 1, 2) + number(1) + ints(3, 2, 0) + number(2) + ints(3, 2)
    )


def test_dumps_table_containing_itself() -> None:
    table = Table()
    table["self"] = table

    assert dumps(table) == ints(3, 1, 1) + string(b"self") + ints(3, 1)


def test_dumps_table_as_key() -> None:
    key = Table()

    assert dumps({key: key}) == ints(3, 1, 1) + ints(3, 2, 0) + ints(3, 2)


def test_dumps_torch_object_fields_take_the_next_index() -> None:
    linear = TorchObject("nn.Linear", 1, Table({"train": False}))

    assert dumps([linear, linear]) == (
        ints(3, 1, 2)
        + number(1)
        + ints(4, 2)
        + chars(b"V 1")
        + chars(b"nn.Linear")
        + ints(3, 3, 1)
        + string(b"train")
        + ints(5, 0)
        + number(2)
        + ints(4, 2)
    )


def test_dumps_torch_object_version_zero_has_no_version_string() -> None:
    old = TorchObject("nn.Old", 0, Table())

    assert dumps(old) == ints(4, 1) + chars(b"nn.Old") + ints(3, 2, 0)


def test_dumps_torch_object_other_version() -> None:
    lookup = TorchObject("nn.LookupTable", 4, Table())

    assert dumps(lookup) == (
        ints(4, 1) + chars(b"V 4") + chars(b"nn.LookupTable") + ints(3, 2, 0)
    )


def test_dumps_function_tag_8_is_indexed_and_referenced() -> None:
    code = b"\x1bLJ\x02fake bytecode"
    function = TorchFunction(8, code, Table(), 0)

    assert dumps([function, function]) == (
        ints(3, 1, 2)
        + number(1)
        + ints(8, 2)
        + chars(code)
        + ints(3, 3, 0)
        + number(2)
        + ints(8, 2)
    )


def test_dumps_function_tag_7_with_upvalue_list() -> None:
    code = b"\x1bLJ\x02older"
    function = TorchFunction(7, code, [1.5], 0)

    assert dumps(function) == (
        ints(7, 1) + chars(code) + ints(3, 2, 1) + number(1) + number(1.5)
    )


def test_dumps_function_tag_6_takes_no_index() -> None:
    code = b"\x1bLJ\x02oldest"
    upvalues = Table()
    function = TorchFunction(6, code, upvalues, 0)

    # Written whole both times; only its upvalues table is a reference.
    assert dumps([function, function]) == (
        ints(3, 1, 2)
        + number(1)
        + ints(6)
        + chars(code)
        + ints(3, 2, 0)
        + number(2)
        + ints(6)
        + chars(code)
        + ints(3, 2)
    )


def test_dumps_numpy_array_as_contiguous_tensor_with_its_own_storage() -> None:
    array = np.arange(6, dtype=np.float32).reshape(2, 3)

    assert dumps(array) == (
        header(1, b"torch.FloatTensor")
        + ints(2)
        + longs(2, 3)
        + longs(3, 1)
        + longs(1)
        + header(2, b"torch.FloatStorage")
        + longs(6)
        + array.tobytes()
    )


def test_dumps_transposed_numpy_array_in_c_order() -> None:
    array = np.arange(6, dtype=np.int16).reshape(2, 3).T

    assert dumps(array).endswith(
        longs(3, 2) + longs(2, 1) + longs(1)
        + header(2, b"torch.ShortStorage")
        + longs(6)
        + np.ascontiguousarray(array).tobytes()
    )  # fmt: skip


def test_dumps_empty_numpy_array_as_empty_tensor() -> None:
    empty = np.zeros((0,), dtype=np.float64)

    assert dumps(empty) == (
        header(1, b"torch.DoubleTensor") + ints(0) + longs(1) + ints(0)
    )


def test_dumps_shared_storage_once_with_offsets_and_strides() -> None:
    flat = storage(np.arange(10, dtype=np.float64))
    weight = tensor_view(flat, 1, (2, 3))
    bias = tensor_view(flat, 7, (2, 2), (1, 2))

    assert dumps([weight, bias]) == (
        ints(3, 1, 2)
        + number(1)
        + header(2, b"torch.DoubleTensor")
        + ints(2)
        + longs(2, 3)
        + longs(3, 1)
        + longs(1)
        + header(3, b"torch.DoubleStorage")
        + longs(10)
        + np.arange(10, dtype=np.float64).tobytes()
        + number(2)
        + header(4, b"torch.DoubleTensor")
        + ints(2)
        + longs(2, 2)
        + longs(1, 2)
        + longs(7)
        + ints(4, 3)
    )


def test_dumps_4_byte_longs() -> None:
    flat = storage(np.array([1, -2, 3], dtype=np.int64))
    view = tensor_view(flat, 2, (2,))

    assert dumps(view, long_size=4) == (
        ints(4, 1, 3)
        + b"V 1"
        + ints(16)
        + b"torch.LongTensor"
        + ints(1)
        + ints(2)  # size
        + ints(1)  # stride
        + ints(2)  # offset
        + ints(4, 2, 3)
        + b"V 1"
        + ints(17)
        + b"torch.LongStorage"
        + ints(3)
        + ints(1, -2, 3)
    )


def test_dumps_long_storage_too_wide_for_4_byte_longs() -> None:
    flat = storage(np.array([2**40], dtype=np.int64))

    with pytest.raises(ValueError, match=r"do not fit in 4-byte longs"):
        dumps(flat, long_size=4)


def test_dumps_fixture_long_beyond_4_bytes_names_its_path() -> None:
    root = load(FIXTURES / "lstm_2x20.t7")

    with pytest.raises(
        ValueError,
        match=r"\.data\.module\.batchsize: Long storage values do not fit in "
        r"4-byte longs",
    ):
        dumps(root, long_size=4)


def test_storage_gpu_class_converts_values() -> None:
    flat = storage([1, 2.5], "torch.CudaStorage")
    view = tensor_view(flat, 1, (2,))

    assert flat.torch_class == "torch.CudaStorage"
    assert flat.dtype == np.float32
    assert view.torch_class == "torch.CudaTensor"
    assert view.storage is flat
    assert view.tolist() == [1.0, 2.5]


def test_storage_refuses_values_its_class_cannot_hold() -> None:
    with pytest.raises(ValueError, match=r"a torch\.ByteStorage cannot hold these"):
        storage([1, -2], "torch.ByteStorage")
    with pytest.raises(ValueError, match=r"converted from float64 to int32"):
        storage([1.5], "torch.IntStorage")


def test_tensor_view_is_a_view_of_its_storage() -> None:
    flat = storage(np.zeros(6, dtype=np.float32))
    view = tensor_view(flat, 2, (2, 2), (3, 1))

    flat[4] = 7

    assert view[1, 0] == 7
    assert (view.torch_size, view.torch_stride, view.storage_offset) == (
        (2, 2),
        (3, 1),
        2,
    )


def test_tensor_view_outside_its_storage() -> None:
    flat = storage(np.zeros(10, dtype=np.float32))

    with pytest.raises(ValueError, match=r"runs outside its storage of 10 elements"):
        tensor_view(flat, 5, (2, 4))


def test_tensor_view_of_another_element_type() -> None:
    flat = storage(np.zeros(4, dtype=np.float32), "torch.CudaStorage")

    with pytest.raises(ValueError, match=r"CudaDoubleTensor cannot view a torch\."):
        tensor_view(flat, 1, (4,), torch_class="torch.CudaDoubleTensor")


def test_dumps_tensor_of_array_arithmetic_as_plain_array() -> None:
    flat = storage(np.arange(4, dtype=np.float32))
    doubled = tensor_view(flat, 1, (2, 2)) * 2

    assert dumps(doubled) == dumps(np.arange(4, dtype=np.float32).reshape(2, 2) * 2)


def test_dumps_unwritable_value_names_its_path() -> None:
    with pytest.raises(TypeError, match=r"<root>\.opt\.seen: cannot write a set"):
        dumps({"opt": {"seen": {1, 2}}})


def test_dumps_integer_that_is_not_a_double() -> None:
    with pytest.raises(ValueError, match=r"<root>\[1\]: 9007199254740993 is not"):
        dumps([2**53 + 1])


def test_dumps_zero_dimensional_array() -> None:
    with pytest.raises(ValueError, match=r"0-dimensional array"):
        dumps(np.array(1.0))


def test_dumps_array_of_unsupported_dtype() -> None:
    with pytest.raises(TypeError, match=r"no Torch tensor holds bool elements"):
        dumps(np.array([True, False]))


def test_dumps_nan_key() -> None:
    with pytest.raises(ValueError, match=r"a table key is nan"):
        dumps({float("nan"): 1})


def test_dumps_torch_object_of_tensor_class() -> None:
    with pytest.raises(TypeError, match=r"tensors and storages must be TorchArrays"):
        dumps(TorchObject("torch.FloatTensor", 1, Table()))


def test_dumps_function_of_unknown_tag() -> None:
    with pytest.raises(ValueError, match=r"function record tag 9, expected 6, 7 or 8"):
        dumps(TorchFunction(9, b"", None, 0))


def test_dumps_unknown_mode_and_long_size() -> None:
    with pytest.raises(ValueError, match=r"mode must be 'binary' or 'ascii'"):
        dumps(None, mode="text")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"long_size must be 4 or 8, not 2"):
        dumps(None, long_size=2)


def test_dumps_ascii_scalars_and_strings() -> None:
    # One line per write call; an empty string's bytes are no line at all.
    assert dumps(["ab", 1.5, True, "", None], mode="ascii") == (
        b"3\n1\n4\n1\n1\n2\n2\nab\n1\n2\n1\n1.5\n1\n3\n5\n1\n1\n4\n2\n0\n"
    )


def test_dumps_ascii_doubles_with_17_digits() -> None:
    values = [0.1, -0.0, 1e300, float("inf"), float("-inf"), float("nan")]

    assert dumps(values, mode="ascii").split(b"\n")[6::4] == [
        b"0.10000000000000001",
        b"-0",
        b"1.0000000000000001e+300",
        b"inf",
        b"-inf",
        b"nan",
    ]


def test_dumps_ascii_float_tensor() -> None:
    array = np.array([[0.1, -2.0, 3e-45]], dtype=np.float32)

    assert dumps(array, mode="ascii") == (
        b"4\n1\n3\nV 1\n17\ntorch.FloatTensor\n"
        b"2\n1 3\n3 1\n1\n"
        b"4\n2\n3\nV 1\n18\ntorch.FloatStorage\n"
        b"3\n0.100000001 -2 2.80259693e-45\n"
    )


def test_dumps_ascii_half_long_and_byte_storages() -> None:
    half = storage(np.array([0.1, -65504], dtype=np.float16))
    long = storage(np.array([-(2**62), 7], dtype=np.int64))
    byte = storage(np.array([0, 10, 32, 255], dtype=np.uint8))

    assert dumps([half, long, byte], mode="ascii") == (
        b"3\n1\n3\n"
        b"1\n1\n4\n2\n3\nV 1\n17\ntorch.HalfStorage\n2\n0.0999755859 -65504\n"
        b"1\n2\n4\n3\n3\nV 1\n17\ntorch.LongStorage\n2\n-4611686018427387904 7\n"
        b"1\n3\n4\n4\n3\nV 1\n17\ntorch.ByteStorage\n4\n\x00\n \xff\n"
    )


def test_dumps_ascii_empty_tensor_writes_no_size_lines() -> None:
    assert dumps(np.zeros(0, dtype=np.int32), mode="ascii") == (
        b"4\n1\n3\nV 1\n15\ntorch.IntTensor\n0\n1\n0\n"
    )


def test_dump_to_path_and_to_open_file(tmp_path: Path) -> None:
    obj = {"vocab": {"a": 1}, "weights": np.ones(3, dtype=np.float32)}
    target = tmp_path / "out.t7"
    buffer = io.BytesIO()

    dump(obj, target)
    dump(obj, buffer)

    assert target.read_bytes() == dumps(obj)
    assert buffer.getvalue() == dumps(obj)
    assert [p.name for p in tmp_path.iterdir()] == ["out.t7"]


# Random trees: what the writer writes, the reader reads back to the same bytes.

_FLOAT_DTYPES = ["<f2", "<f4", "<f8"]
_ARRAY_DTYPES = ["u1", "i1", "<i2", "<i4", "<i8", *_FLOAT_DTYPES]


@st.composite
def _arrays(draw: st.DrawFn) -> np.ndarray:
    dtype = draw(st.sampled_from(_ARRAY_DTYPES))
    # ASCII keeps every value but not a NaN's payload bits.
    elements = {"allow_nan": False} if dtype in _FLOAT_DTYPES else None
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    return draw(hnp.arrays(dtype, shape, elements=elements))


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    # Lua's -0.0 comes back from the reader as 0.
    | st.floats(allow_nan=False).filter(lambda x: x != 0 or str(x) == "0.0")
    | st.text(max_size=8)
    | st.binary(max_size=8)
)
_TREES = st.recursive(
    _SCALARS | _arrays(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(max_size=4) | st.integers(-5, 5), children, max_size=4
        )
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(tree=_TREES, mode=st.sampled_from(["binary", "ascii"]))
def test_dumps_load_round_trip_random_trees(tree: Any, mode: Mode) -> None:
    data = dumps(tree, mode=mode)

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tree.t7"
        path.write_bytes(data)
        again = dumps(load(path), mode=mode)

    assert again == data
