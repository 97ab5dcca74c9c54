"""The benchmark harness runs end to end in quick mode on tiny sizes (no timing asserted:
this keeps `python -m bench` from rotting as the compiler changes)."""
import json

from bench.__main__ import main
from bench.stages import growth, run_stages
from bench.synthetic import SHAPES, synthetic_spec

import cnndsl


def test_synthetic_specs_have_about_the_layers_asked_for():
    for shape in SHAPES:
        net = cnndsl.build(synthetic_spec(140, shape))
        layers = sum(1 for _ in net.layers())
        assert 130 <= layers <= 140, (shape, layers)


def test_every_stage_is_timed_and_measured():
    text = synthetic_spec(20, "residual")
    seconds = run_stages(text, measure_memory=False)
    peak = run_stages(text, measure_memory=True)
    assert list(seconds) == list(peak)
    assert {"parse", "lower", "receptive_field", "torch_source", "dot"} <= set(seconds)
    assert peak["parse"] > 0 and peak["lower"] > 0 and seconds["parse"] > 0


def test_growth_is_per_decade_of_layers():
    rows = {10: {"check_seconds": 1.0, "layers": 10},
            1000: {"check_seconds": 100.0, "layers": 1000}}
    assert growth(rows) == {"1000/10": 10.0}


def test_quick_run_writes_json_and_markdown(tmp_path):
    out_json, out_md = tmp_path / "b.json", tmp_path / "b.md"
    status = main(["--quick", "--only", "stages", "scaling", "memory", "gpu", "--sizes", "10", "30",
                   "--zoo", "lenet5", "--json", str(out_json), "--markdown", str(out_md)])
    assert status == 0
    data = json.loads(out_json.read_text())
    assert set(data["synthetic_stages"]) == set(SHAPES)
    assert data["memory"][0]["ratio"] > 0
    text = out_md.read_text()
    assert "## Compiler stages on the zoo" in text and "| lenet5 |" in text
    assert "## Training memory" in text and "## GPU" in text
    assert set(data["scaling"]["seconds"]) == {"10", "30"}
    again = tmp_path / "again.md"
    main(["--from-json", str(out_json), "--json", str(tmp_path / "again.json"),
          "--markdown", str(again)])
    assert again.read_text() == text  # rendering from the JSON alone gives the same page


def test_torchvision_comparison_skips_cleanly_without_torchvision(tmp_path):
    from bench.report import markdown
    from bench.vs_torchvision import load_torchvision, vs_torchvision

    models, why = load_torchvision(tmp_path)  # no tvload.py there
    assert models is None and "tvload.py" in why
    section = vs_torchvision(["resnet50"], say=lambda text: None,
                             loader=lambda: (None, "no torchvision"))
    assert section == {"skipped": "no torchvision"}
    page = markdown({"mode": "quick", "started": "now", "torchvision": section,
                     "machine": {"python": "3", "platform": "p", "processor": "x",
                                 "cpus": 2}})
    assert "Skipped: no torchvision." in page


def test_weights_are_copied_in_registration_order_with_shapes_checked():
    import pytest
    import torch

    from bench.vs_torchvision import copy_weights

    a, b = torch.nn.Linear(3, 4), torch.nn.Linear(3, 4)
    copy_weights(a, b)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    with pytest.raises(ValueError, match="weight"):
        copy_weights(torch.nn.Linear(3, 4), torch.nn.Linear(4, 3))


def test_frontend_section_measures_its_ratios(tmp_path):
    from bench import frontend
    from bench.report import markdown

    data = frontend.frontend(quick=True, repeats=1, sizes=(10, 20, 40))
    commands = data["commands"]
    assert set(commands) == {"bare python", "check, 3 lines", "check, 20 lines"}
    assert commands["bare python"]["x_bare_wall"] == 1.0
    assert commands["check, 3 lines"]["x_bare_cpu"] > 1  # it does more than import json
    assert data["parse"]["speedup"] > 0 and data["summary_json"]["speedup"] > 0
    assert data["memory"]["tracemalloc_peak_per_layer"] > 0
    assert set(data["scaling"]["growth"]) == {"20/10", "40/20"}
    results = {"mode": "quick", "started": "now", "frontend": data,
               "machine": {"python": "3", "platform": "p", "processor": "x", "cpus": 2}}
    text = markdown(json.loads(json.dumps(results)))  # as written to and read from JSON
    assert "## Front end: ratios measured side by side" in text
    assert "| `cnndsl check`, 3-line spec / bare python | <= 10x |" in text
