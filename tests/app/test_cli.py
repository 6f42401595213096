"""The CLI's own rules (qa/app/cli.py, qa/app/options.py), without a model: `tune --write` never overwrites the
package's weights, and `--help` names the environment variables the program reads."""

from __future__ import annotations

import pytest

from qa.app import cli


def test_tune_write_needs_an_explicit_out_before_any_model_loads(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_engine", lambda *a, **k: pytest.fail("the engine was loaded"))
    assert cli.main(["tune", "--write"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --write needs --out FILE") and err.count("\n") == 1
    args = cli.build_parser().parse_args(["tune", "--out", "weights.json"])
    assert args.out == "weights.json" and not args.write  # --out alone saves too (cmd_tune)


@pytest.mark.parametrize("argv", [["--help"], ["serve", "--help"]])
def test_help_lists_the_environment_variables(argv, capsys):
    with pytest.raises(SystemExit):
        cli.main(argv)
    out = capsys.readouterr().out
    for name in ("REPORT_QA_HOME", "REPORT_QA_ORT_THREADS", "REPORT_QA_MILVUS_TIMEOUT", "REPORT_QA_LOG",
                 "REPORT_QA_LLM_URL", "REPORT_QA_STORE"):
        assert name in out, name
