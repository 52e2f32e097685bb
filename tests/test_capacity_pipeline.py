"""benchmarks/capacity/pipeline.py: its argument parsing and how it judges and summarises a step (no stack, no load)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "capacity" / "pipeline.py"
_spec = importlib.util.spec_from_file_location("capacity_pipeline", _PATH)
assert _spec is not None and _spec.loader is not None
pipeline = importlib.util.module_from_spec(_spec)
sys.modules["capacity_pipeline"] = pipeline
_spec.loader.exec_module(pipeline)


def _step(**overrides: Any) -> dict[str, Any]:
    step: dict[str, Any] = {
        "signal": "traces", "target_per_s": 10000.0, "generated_per_s": 10000.0, "accepted_per_s": 9990.0, "refused": 0, "send_failed": 0,
        "enqueue_failed": 0, "queue_max": 3, "queue_capacity": 1000, "backend_per_s": 9985.0,
        "collector_cpu_pct": 40.0, "generator_cpu_pct": 30.0, "collector_rss_max_mib": 120.0,
    }
    step.update(overrides)
    step["verdict"] = pipeline.verdict(step)
    return step


def test_rates_parse_with_k_suffix_and_bad_values_are_named() -> None:
    assert pipeline.parse_rates("500, 1000,2k") == [500.0, 1000.0, 2000.0]
    assert pipeline.parse_rates("0,100", allow_zero=True) == [0.0, 100.0]
    with pytest.raises(ValueError, match="'0'"):
        pipeline.parse_rates("0,100")
    with pytest.raises(ValueError, match="'fast'.*e.g. 500,1000,2k"):
        pipeline.parse_rates("100,fast")


def test_arguments_default_to_every_signal_and_reject_unknown_ones(capsys: pytest.CaptureFixture[str]) -> None:
    args = pipeline.parse_args([])
    assert args.mode == "all" and args.signals == ["traces", "metrics", "logs"]
    assert args.rates["traces"][0] == 5000.0 and args.sdk_rates[-1] == 0.0
    args = pipeline.parse_args(["--mode", "collector", "--signals", "metrics", "--metrics-rates", "1k,3k"])
    assert args.signals == ["metrics"] and args.rates["metrics"] == [1000.0, 3000.0]
    with pytest.raises(SystemExit):
        pipeline.parse_args(["--signals", "traces,profiles"])
    assert "'profiles'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        pipeline.parse_args(["--traces-rates", "-5"])
    assert "'-5'" in capsys.readouterr().err


def test_prometheus_text_is_summed_by_name_and_labels() -> None:
    text = (
        "# HELP otelcol_receiver_accepted_spans x\n"
        'otelcol_receiver_accepted_spans{receiver="otlp",transport="grpc"} 10\n'
        'otelcol_receiver_accepted_spans{receiver="otlp",transport="http"} 5\n'
        'otelcol_receiver_accepted_spans{receiver="span_metrics"} 99\n'
        "vl_rows_ingested_total 7\n"
    )
    samples = pipeline.parse_metrics(text)
    assert pipeline.total(samples, "otelcol_receiver_accepted_spans", receiver="otlp") == 15
    assert pipeline.total(samples, "otelcol_receiver_accepted_spans") == 114
    assert pipeline.total(samples, "vl_rows_ingested") == 7


def test_a_step_is_judged_by_the_first_limit_it_hit() -> None:
    assert _step()["verdict"] is None
    assert "memory_limiter" in _step(refused=5, enqueue_failed=9)["verdict"]
    assert "fila de envio cheia" in _step(enqueue_failed=9)["verdict"]
    assert "CPU do collector" in _step(accepted_per_s=7000.0, collector_cpu_pct=97.0)["verdict"]
    assert "aceitou menos do que o gerado" in _step(accepted_per_s=7000.0)["verdict"]
    backpressure = _step(generated_per_s=7000.0, accepted_per_s=7000.0, collector_cpu_pct=97.0)["verdict"]
    assert "backpressure" in backpressure
    # A generator that fell short on its own (the collector idle) is no break of the collector.
    assert _step(generated_per_s=7000.0, accepted_per_s=7000.0)["verdict"] is None
    assert "backend atrás" in _step(queue_max=800)["verdict"]
    assert "backend recebeu menos" in _step(backend_per_s=5000.0)["verdict"]
    assert _step(backend_per_s=None)["verdict"] is None


def test_generated_items_are_read_from_telemetrygen_closing_lines() -> None:
    log = (
        '2026-12-03T12:00:00.000Z\tINFO\ttraces/worker.go:180\ttraces generated\t{"worker": 0, "traces": 700}\n'
        '2026-12-03T12:00:00.000Z\tINFO\ttraces/worker.go:180\ttraces generated\t{"worker": 1, "traces": 650}\n'
        "2026-12-03T12:00:00.000Z\tINFO\tstarting gRPC exporter\n"
    )
    assert pipeline.generated_items(log, "traces") == 2 * 1350
    assert pipeline.generated_items(log, "logs") == 0
    assert pipeline.generator_workers(80000) == 160 and pipeline.generator_workers(100) == 1


def test_the_knee_is_the_best_healthy_step_and_the_first_broken_one() -> None:
    steps = [
        _step(target_per_s=5000.0, generated_per_s=5000.0, accepted_per_s=5000.0, backend_per_s=5000.0,
              collector_cpu_pct=25.0),
        _step(target_per_s=10000.0, accepted_per_s=9990.0, collector_cpu_pct=50.0),
        _step(target_per_s=20000.0, generated_per_s=20000.0, accepted_per_s=14000.0, collector_cpu_pct=98.0),
        _step(signal="logs", target_per_s=5000.0, generated_per_s=5000.0, accepted_per_s=5000.0,
              backend_per_s=5000.0),
    ]
    found = pipeline.knee(steps)
    assert found["traces"]["max_healthy_per_s"] == 9990.0
    assert found["traces"]["per_core_at_100pct_cpu"] == 19980
    assert found["traces"]["first_break_target_per_s"] == 20000.0
    assert "CPU do collector" in found["traces"]["first_break"]
    assert found["logs"]["first_break"] is None and "metrics" not in found
    table = pipeline.collector_table(steps)
    assert table.count("\n") == len(steps) + 1 and "| traces | 20000 | 20000 | 14000 |" in table
    assert table.splitlines()[1].startswith("|---|---:|") and table.splitlines()[1].endswith("|---|")


def test_each_metrics_generator_process_is_its_own_instance_and_prometheus_refusals_break_a_step() -> None:
    # One resource shared by several processes made their target_info series reach Prometheus out of order.
    cmds = pipeline.generator_commands(Path("tg"), "127.0.0.1:4317", "metrics", 3000, 5, "0")
    instances = [cmd[cmd.index("--otlp-attributes") + 1] for cmd in cmds]
    assert len(cmds) == 3 and len(set(instances)) == 3
    assert all(i.startswith("service.instance.id=") for i in instances)
    assert _step(signal="metrics", write_refused=0, out_of_order=0)["verdict"] is None
    assert "Prometheus recusou" in (_step(signal="metrics", write_refused=2, out_of_order=1)["verdict"] or "")
