"""bridge.t7.cpu and ``rjs-bridge to-cpu``: GPU classes renamed to CPU ones.

The reference: ``X.cuda.t7`` is ``X.float.t7`` with CPU class names replaced
by cutorch's (fixtures README), so converting it back must give
``X.float.t7`` byte for byte.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bridge.cli import cli
from bridge.t7 import Table, TorchArray, TorchFunction, TorchObject, load
from bridge.t7.cpu import describe_renames, to_cpu, to_cpu_file
from bridge.t7.writer import dumps, storage, tensor_view
from tests.t7_paths import resolve, tensor_paths

FIXTURES = Path(__file__).parent / "fixtures"
CUDA_MODELS = ["lstm_2x20", "lstm_3x128"]


def _gpu_model() -> Table:
    """A char-rnn-like tree: views into one flat CudaStorage, a module whose
    _type names the GPU class, and tensors of the other GPU classes."""
    flat = storage(np.arange(10, dtype=np.float32) / 3, "torch.CudaStorage")
    weight = tensor_view(flat, 1, (2, 3))
    bias = tensor_view(flat, 7, (2, 2), (1, 2))
    linear = TorchObject(
        "nn.Linear",
        1,
        Table({"weight": weight, "bias": bias, "_type": "torch.CudaTensor"}),
    )
    return Table(
        {
            "linear": linear,
            "flat": flat,
            "cl": tensor_view(storage([1.5, -2], "torch.ClStorage"), 1, (2,)),
            "half": tensor_view(storage([0.1, 3], "torch.CudaHalfStorage"), 1, (2,)),
            "double": tensor_view(storage([0.1], "torch.CudaDoubleStorage"), 1, (1,)),
            "long": tensor_view(storage([2**40], "torch.CudaLongStorage"), 1, (1,)),
            "byte": tensor_view(storage([7, 255], "torch.CudaByteStorage"), 1, (2,)),
            "cpu": np.array([0.25], dtype=np.float32),
            "empty": _empty_tensor("torch.CudaTensor"),
            "note": {"_type": "torch.CudaTensor"},
        }
    )


def _empty_tensor(torch_class: str) -> TorchArray:
    """An empty tensor as the reader returns one: no sizes, no storage."""
    empty = np.empty(0, dtype=np.float32).view(TorchArray)
    empty.torch_class = torch_class
    empty.torch_size = ()
    empty.torch_stride = ()
    return empty


@pytest.mark.parametrize("name", CUDA_MODELS)
def test_to_cpu_file_cuda_fixture_gives_float_fixture(
    name: str, tmp_path: Path
) -> None:
    output = tmp_path / "out.t7"

    report = to_cpu_file(FIXTURES / f"{name}.cuda.t7", output)

    assert output.read_bytes() == (FIXTURES / f"{name}.float.t7").read_bytes()
    assert report.size == output.stat().st_size
    assert set(report.copy.renamed) == {
        ("torch.CudaStorage", "torch.FloatStorage"),
        ("torch.CudaTensor", "torch.FloatTensor"),
    }


@pytest.mark.parametrize("name", CUDA_MODELS)
def test_to_cpu_file_double_widens_the_float_values(name: str, tmp_path: Path) -> None:
    output = tmp_path / "out.t7"
    floats = load(FIXTURES / f"{name}.float.t7")

    to_cpu_file(FIXTURES / f"{name}.cuda.t7", output, float_type="double")
    doubles = load(output)

    float_tensors = tensor_paths(floats)
    assert set(tensor_paths(doubles)) == set(float_tensors)
    for path, tensor in float_tensors.items():
        widened = resolve(doubles, path)
        assert widened.torch_class == "torch.DoubleTensor", path
        assert widened.dtype == np.float64
        assert np.array_equal(widened, tensor.astype(np.float64)), path
        assert widened.storage_offset == tensor.storage_offset
        assert widened.torch_stride == tensor.torch_stride
    assert resolve(doubles, "protos.rnn.modules[3]._type") == "torch.DoubleTensor"
    # The weights still view one flat storage.
    weight = resolve(doubles, "protos.rnn.modules[3].weight")
    bias = resolve(doubles, "protos.rnn.modules[3].bias")
    assert weight.storage is bias.storage


def test_to_cpu_float_renames_classes_and_keeps_sharing() -> None:
    model = _gpu_model()

    copy = to_cpu(model).root

    linear = copy["linear"]
    assert linear.weight.torch_class == "torch.FloatTensor"
    assert linear.weight.storage is copy["flat"]
    assert linear.bias.storage is copy["flat"]
    assert copy["flat"].torch_class == "torch.FloatStorage"
    assert (linear.bias.storage_offset, linear.bias.torch_stride) == (7, (1, 2))
    thirds = np.arange(10, dtype=np.float32) / 3
    assert np.array_equal(linear.bias, thirds[[[6, 8], [7, 9]]])
    assert linear._type == "torch.FloatTensor"
    assert copy["note"] == {"_type": "torch.CudaTensor"}  # not a module's field
    assert [copy[k].torch_class for k in ("cl", "half", "double", "long", "byte")] == [
        "torch.FloatTensor",
        "torch.HalfTensor",
        "torch.DoubleTensor",
        "torch.LongTensor",
        "torch.ByteTensor",
    ]
    assert copy["long"].tolist() == [2**40]
    assert copy["cpu"] is model["cpu"]
    assert copy["empty"].torch_class == "torch.FloatTensor"
    assert copy["empty"].storage is None


def test_to_cpu_double_widens_every_floating_type_exactly() -> None:
    model = _gpu_model()

    copy = to_cpu(model, "double").root

    assert copy["flat"].torch_class == "torch.DoubleStorage"
    assert copy["flat"].dtype == np.float64
    assert np.array_equal(copy["flat"], model["flat"].astype(np.float64))
    assert copy["linear"].weight.storage is copy["flat"]
    assert copy["half"].tolist() == [float(np.float16(0.1)), 3.0]
    assert copy["half"].torch_class == "torch.DoubleTensor"
    assert copy["cl"].dtype == np.float64
    assert copy["long"].torch_class == "torch.LongTensor"
    assert copy["long"].dtype == np.int64
    assert copy["byte"].torch_class == "torch.ByteTensor"
    assert copy["linear"]._type == "torch.DoubleTensor"


def test_to_cpu_leaves_its_input_unchanged() -> None:
    model = _gpu_model()
    before = dumps(model)

    to_cpu(model, "double")

    assert dumps(model) == before


def test_to_cpu_keeps_function_bytecode_and_upvalues(
    t7_file: Callable[..., Path],
) -> None:
    code = b"\x1bLJ\x02\x00not really bytecode\xff"
    tensor = tensor_view(storage([1, 2], "torch.CudaStorage"), 1, (2,))
    function = TorchFunction(
        8, code, [Table({"name": "w", "id": 1, "value": tensor})], 0
    )
    path = t7_file({"f": function, "w": tensor})

    copy = to_cpu(load(path)).root
    again = load(t7_file(copy, name="again.t7"))

    assert again["f"].bytecode == code
    assert again["f"].tag == 8
    assert again["f"].upvalues[1]["value"] is again["w"]
    assert again["w"].torch_class == "torch.FloatTensor"


def test_to_cpu_unknown_float_type() -> None:
    with pytest.raises(ValueError, match=r"float_type must be 'float' or 'double'"):
        to_cpu(Table(), "half")  # type: ignore[arg-type]


def test_describe_renames_counts_each_rename() -> None:
    copy = to_cpu(_gpu_model())

    assert describe_renames(copy) == (
        "1 torch.ClStorage -> torch.FloatStorage, "
        "1 torch.ClTensor -> torch.FloatTensor, "
        "1 torch.CudaByteStorage -> torch.ByteStorage, "
        "1 torch.CudaByteTensor -> torch.ByteTensor, "
        "1 torch.CudaDoubleStorage -> torch.DoubleStorage, "
        "1 torch.CudaDoubleTensor -> torch.DoubleTensor, "
        "1 torch.CudaHalfStorage -> torch.HalfStorage, "
        "1 torch.CudaHalfTensor -> torch.HalfTensor, "
        "1 torch.CudaLongStorage -> torch.LongStorage, "
        "1 torch.CudaLongTensor -> torch.LongTensor, "
        "1 torch.CudaStorage -> torch.FloatStorage, "
        "3 torch.CudaTensor -> torch.FloatTensor; "
        "1 module _type field"
    )


def test_cli_to_cpu_writes_beside_the_input(tmp_path: Path) -> None:
    model = tmp_path / "lstm_2x20.cuda.t7"
    shutil.copyfile(FIXTURES / "lstm_2x20.cuda.t7", model)

    result = CliRunner().invoke(cli, ["to-cpu", str(model)])

    output = tmp_path / "lstm_2x20.cuda_cpu.t7"
    assert result.exit_code == 0, result.output
    assert output.read_bytes() == (FIXTURES / "lstm_2x20.float.t7").read_bytes()
    assert result.stdout == ""
    assert result.stderr == (
        f"{output}: 6 torch.CudaStorage -> torch.FloatStorage, "
        "87 torch.CudaTensor -> torch.FloatTensor; 37 module _type fields\n"
    )


def test_cli_to_cpu_double(tmp_path: Path) -> None:
    model = str(FIXTURES / "lstm_2x20.cuda.t7")
    output = tmp_path / "double.t7"

    result = CliRunner().invoke(
        cli, ["-q", "to-cpu", model, "-o", str(output), "--type", "double"]
    )

    assert result.exit_code == 0, result.output
    assert result.output == ""
    weight = resolve(load(output), "protos.rnn.modules[3].weight")
    assert weight.torch_class == "torch.DoubleTensor"


def test_cli_to_cpu_ascii_input_gives_binary_output(tmp_path: Path) -> None:
    model = tmp_path / "ascii.t7"
    model.write_bytes(dumps(load(FIXTURES / "lstm_2x20.cuda.t7"), mode="ascii"))

    result = CliRunner().invoke(cli, ["-q", "to-cpu", str(model)])

    assert result.exit_code == 0, result.output
    output = tmp_path / "ascii_cpu.t7"
    assert output.read_bytes() == (FIXTURES / "lstm_2x20.float.t7").read_bytes()


def test_cli_to_cpu_refuses_to_overwrite_its_input(tmp_path: Path) -> None:
    model = tmp_path / "model.t7"
    shutil.copyfile(FIXTURES / "lstm_2x20.cuda.t7", model)

    result = CliRunner().invoke(cli, ["to-cpu", str(model), "-o", str(model)])

    assert result.exit_code == 1
    assert "refusing to overwrite the input file" in result.stderr
    assert model.read_bytes() == (FIXTURES / "lstm_2x20.cuda.t7").read_bytes()


def test_cli_to_cpu_not_a_checkpoint(tmp_path: Path) -> None:
    model = tmp_path / "page.t7"
    model.write_text("<!DOCTYPE html><html><body>Not found</body></html>")

    result = CliRunner().invoke(cli, ["to-cpu", str(model)])

    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {model}: this is an HTML page")
    assert not (tmp_path / "page_cpu.t7").exists()


def test_cli_to_cpu_unknown_type(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["to-cpu", str(FIXTURES / "lstm_2x20.cuda.t7"), "--type", "half"]
    )

    assert result.exit_code == 2
    assert "'half' is not one of 'float', 'double'" in result.stderr
