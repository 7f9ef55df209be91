"""`mpdoctor run samples/X.py`: the findings, locations and exit codes each sample promises.

Each sample's docstring states `Expect:` (finding ids, or none) and `Exit:`; lines ending in
`# <- finding` must be cited among the findings' locations. The JSON report is validated against
the shipped schema. Correct samples must give no finding under every start method, on 3.8, 3.11
and 3.13 (the other interpreters are skipped where pyenv does not have them).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from cli_support import ROOT, run_mpdoctor

sys.path.insert(0, str(ROOT / "tests" / "donoharm"))
import jsonschema
from sample_meta import ALL_METHODS, SampleMeta, all_samples

SCHEMA = json.loads((ROOT / "mpdoctor" / "schema" / "report-v1.schema.json").read_text())


def validate_report(data: dict) -> None:
    jsonschema.validate(data, SCHEMA, cls=jsonschema.Draft202012Validator)


SAMPLES = all_samples(ROOT / "samples")
CORRECT = [s for s in SAMPLES if s.correct]
FAULTY = [s for s in SAMPLES if not s.correct]
LAUNCHER = ROOT / "tests" / "donoharm" / "with_start_method.py"
PYTHONS = {
    "3.8": Path("/root/.pyenv/versions/3.8.18/bin/python"),
    "3.11": Path(sys.executable),
    "3.13": Path("/root/.pyenv/versions/3.13.0/bin/python"),
}


# A hanging sample mpdoctor cannot prove endless (a polling loop) is reported after the stall
# and stopped by the timeout.
UNPROVEN_HANG = ["--hang-after", "2", "--timeout", "6"]


def _run_sample(tmp_path: Path, sample: SampleMeta, method: str | None = None, python=None):
    report = tmp_path / "report.json"
    args = ["run", "--mp-log", "off", "--report", str(report)]
    if sample.hangs and not sample.stopped:
        args += UNPROVEN_HANG
    if python is not None:
        args += ["--python", str(python)]
    if method is None:
        args.append(str(sample.path))
    else:
        args += [str(LAUNCHER), method, str(sample.path)]
    result = run_mpdoctor(args, timeout=60)
    assert report.exists(), result.stderr.decode(errors="replace")
    data = json.loads(report.read_text())
    validate_report(data)
    return result, data


def _ids(data: dict) -> set[str]:
    return {finding["id"] for finding in data["findings"]}


@pytest.mark.parametrize("sample", FAULTY, ids=lambda s: s.path.stem)
def test_faulty_sample_gives_its_finding_at_its_lines(tmp_path, sample: SampleMeta):
    result, data = _run_sample(tmp_path, sample)
    stderr = result.stderr.decode(errors="replace")
    if sample.stopped:
        assert result.returncode == 124, stderr
        assert data["outcome"]["status"] == sample.stopped_status, stderr
        # a few repetitions, not the 3 s timeout; a deadlock within 2 s of forming
        assert data["outcome"]["duration_s"] < 2.5, stderr
    elif sample.hangs:
        assert result.returncode == 124, stderr
        assert data["outcome"]["status"] == "timeout", stderr
    else:
        assert result.returncode == sample.exit_code, stderr
    assert _ids(data) == set(sample.expect), stderr
    cited = {
        (Path(loc["file"]).name, loc["line"])
        for finding in data["findings"]
        for loc in finding["locations"]
    }
    for line in sample.marked_lines:
        assert (sample.path.name, line) in cited, f"line {line} not cited: {cited}"
    for finding in data["findings"]:
        assert finding["hint"]["fix"], finding
        assert finding["id"] in stderr  # the console shows what the JSON says
    assert "remediation" in stderr


@pytest.mark.parametrize("sample", CORRECT, ids=lambda s: s.path.stem)
def test_correct_sample_gives_no_finding(tmp_path, sample: SampleMeta):
    result, data = _run_sample(tmp_path, sample)
    assert result.returncode == sample.exit_code
    assert data["findings"] == [], result.stderr.decode(errors="replace")
    assert data["outcome"] == {**data["outcome"], "status": "exited", "whose": "target"}


@pytest.mark.slow
@pytest.mark.parametrize("version", sorted(PYTHONS))
@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("sample", CORRECT, ids=lambda s: s.path.stem)
def test_correct_sample_no_finding_any_method_any_python(tmp_path, sample, method, version):
    python = PYTHONS[version]
    if not python.exists():
        pytest.skip(f"no Python {version} here")
    result, data = _run_sample(tmp_path, sample, method=method, python=python)
    stderr = result.stderr.decode(errors="replace")
    assert result.returncode == sample.exit_code, stderr
    assert data["findings"] == [], stderr
    assert data["environment"]["python"].startswith(version)
    # Every Python process registered, except one terminated while still starting up (a
    # `with Pool()` block may end a spawn worker before its interpreter ran sitecustomize).
    unprobed = [p for p in data["processes"] if not p["probed"] and p["signal"] is None]
    assert unprobed == [], stderr
