"""The installed wheel carries the zoo and the grammar: networks by name from any folder."""
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                           str(out), str(ROOT)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"pip could not build the wheel here: {done.stderr.strip()[-300:]}")
    return next(out.glob("cnndsl-*.whl"))


def test_wheel_ships_the_zoo_and_the_grammar(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "cnndsl/grammars/cnn.lark" in names
    assert "cnndsl/zoo_specs/resnet50.cnn" in names
    assert "cnndsl/zoo_specs/efficientnet_blocks.cnn" in names


def test_zoo_by_name_from_any_folder(wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(site), str(wheel)], check=True, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = ("import cnndsl, sys; assert cnndsl.__file__.startswith(sys.argv[1]); "
            "print(cnndsl.build('mobilenet_v3_small').meta['params'])")
    done = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, "
                           f"{str(site)!r}); exec({code!r})", str(site)],
                          cwd=elsewhere, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2542856"
