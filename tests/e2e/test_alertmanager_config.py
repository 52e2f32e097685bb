"""Alertmanager's routing and its rendered copies, checked by the real ``amtool`` (0.25, Debian's package).

- ``amtool config routes test``: critical -> on-call (Slack + e-mail), warning -> the alerts channel and the team
  list, escalated -> the escalation receiver, severity none -> nowhere; every alert but those also to the history;
- ``collector-config/alertmanager/render.sh``: a secret given as a file or a value ends up in a file (never in the
  config), a missing secret leaves its channel out with one log line, and every rendered copy passes
  ``amtool check-config``.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ALERTMANAGER = ROOT / "collector-config" / "alertmanager"
CONFIG = ALERTMANAGER / "alertmanager.yml"
SLACK_URL = "https://hooks.slack.com/services/T0SECRET/B0SECRET/not-a-real-token"


def _amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["amtool", *args], capture_output=True, text=True, timeout=60, check=False)


def _receivers(config: Path, *labels: str) -> str:
    result = _amtool("config", "routes", "test", f"--config.file={config}", *labels)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (("alertname=OmieApiMisuseBlocked", "job=omie-mcp", "severity=critical"), "history,oncall"),
        (("alertname=OmieHostCpuHigh", "job=omie-mcp", "instance=p1", "severity=warning"), "history,team"),
        (
            ("alertname=OmiePageEscalated", "escalated_alertname=OmieMcpDown", "escalation=true", "job=omie-mcp",
             "severity=critical"),
            "history,escalation",
        ),
        (("alertname=Watchdog", "severity=none"), "blackhole"),
        # An alert without a known severity is not lost: the team sees it.
        (("alertname=SomethingNew", "job=omie-mcp"), "history,team"),
    ],
    ids=["critical", "warning", "escalated", "none", "no-severity"],
)
def test_routes(stack_binaries: Path, labels: tuple[str, ...], expected: str) -> None:
    assert _receivers(CONFIG, *labels) == expected


def test_amtool_verify_receivers_catches_a_wrong_route(stack_binaries: Path) -> None:
    # The tool the route cases rely on does fail on a mismatch.
    result = _amtool(
        "config", "routes", "test", f"--config.file={CONFIG}", "--verify.receivers=team", "severity=critical"
    )
    assert result.returncode != 0


def _channels(config: dict, receiver: str) -> dict[str, list[dict]]:
    [found] = [r for r in config["receivers"] if r["name"] == receiver]
    return {k: v for k, v in found.items() if k.endswith("_configs")}


def test_each_receiver_has_its_channels_and_sends_resolutions() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    oncall, team, escalation = (_channels(config, n) for n in ("oncall", "team", "escalation"))
    assert [c["channel"] for c in oncall["slack_configs"]] == ["#omie-plantao"]
    assert [c["to"] for c in oncall["email_configs"]] == ["plantao@omie-otel.local"]
    assert [c["channel"] for c in team["slack_configs"]] == ["#omie-alertas"]
    assert [c["to"] for c in team["email_configs"]] == ["time@omie-otel.local"]
    assert [c["channel"] for c in escalation["slack_configs"]] == ["#omie-escalacao"]
    assert [c["to"] for c in escalation["email_configs"]] == ["gestor@omie-otel.local"]
    history = _channels(config, "history")
    assert list(history) == ["webhook_configs"]
    for name in ("oncall", "team", "escalation", "history"):
        for configs in _channels(config, name).values():
            assert all(c["send_resolved"] is True for c in configs), name
    # Secrets come from files only.
    text = CONFIG.read_text()
    assert "api_url:" not in text and "auth_password:" not in text
    # Escalations repeat every 30 minutes, pages hourly, tickets every 12 hours.
    routes = {r["receiver"]: r for r in config["route"]["routes"]}
    assert routes["escalation"]["repeat_interval"] == "30m"
    assert routes["oncall"]["repeat_interval"] == "1h"
    assert config["route"]["repeat_interval"] == "12h"
    assert routes["history"]["group_by"] == ["..."] and routes["history"]["continue"] is True


def _render(tmp_path: Path, **env: str) -> tuple[Path, str]:
    out = tmp_path / "am"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ALERTMANAGER_")}
    result = subprocess.run(
        [str(ALERTMANAGER / "render.sh"), str(ALERTMANAGER), str(out)],
        env=clean | env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    check = _amtool("check-config", str(out / "alertmanager.yml"))
    assert check.returncode == 0, check.stdout + check.stderr
    return out, result.stderr


def test_render_without_secrets_leaves_slack_off_with_one_line(stack_binaries: Path, tmp_path: Path) -> None:
    out, log = _render(tmp_path)
    config = yaml.safe_load((out / "alertmanager.yml").read_text())
    for name in ("oncall", "team", "escalation"):
        assert "slack_configs" not in _channels(config, name), name
        assert "email_configs" in _channels(config, name), name
    assert log.splitlines() == [
        "alertmanager: Slack off for #omie-plantao, #omie-alertas, #omie-escalacao: set ALERTMANAGER_SLACK_API_URL_FILE"
        " (a file holding the incoming-webhook URL; or ALERTMANAGER_SLACK_<ONCALL|ALERTS|ESCALATION>_API_URL_FILE per"
        " channel) to turn it on"
    ]
    # No SMTP user: no authentication lines.
    assert "smtp_auth_username" not in config["global"]


def test_render_puts_the_slack_url_in_a_private_file_never_in_the_config(stack_binaries: Path, tmp_path: Path) -> None:
    out, log = _render(
        tmp_path, ALERTMANAGER_SLACK_API_URL=SLACK_URL, ALERTMANAGER_SLACK_CHANNEL_ONCALL="#plantao-financeiro"
    )
    text = (out / "alertmanager.yml").read_text()
    assert SLACK_URL not in text and "T0SECRET" not in text
    config = yaml.safe_load(text)
    [oncall] = _channels(config, "oncall")["slack_configs"]
    assert oncall["channel"] == "#plantao-financeiro"
    secret = Path(oncall["api_url_file"])
    assert secret.read_text().strip() == SLACK_URL
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700
    assert log == ""


def test_render_uses_a_given_secret_file_and_one_channel_may_have_its_own(stack_binaries: Path, tmp_path: Path) -> None:
    shared, own = tmp_path / "slack.url", tmp_path / "escalation.url"
    shared.write_text(SLACK_URL + "\n")
    own.write_text(SLACK_URL.replace("T0SECRET", "T0OTHER") + "\n")
    out, _ = _render(
        tmp_path, ALERTMANAGER_SLACK_API_URL_FILE=str(shared), ALERTMANAGER_SLACK_ESCALATION_API_URL_FILE=str(own)
    )
    config = yaml.safe_load((out / "alertmanager.yml").read_text())
    files = {n: _channels(config, n)["slack_configs"][0]["api_url_file"] for n in ("oncall", "team", "escalation")}
    assert files == {"oncall": str(shared), "team": str(shared), "escalation": str(own)}


def test_render_a_missing_secret_file_turns_its_channel_off(stack_binaries: Path, tmp_path: Path) -> None:
    out, log = _render(tmp_path, ALERTMANAGER_SLACK_API_URL_FILE=str(tmp_path / "nowhere.url"))
    config = yaml.safe_load((out / "alertmanager.yml").read_text())
    assert all("slack_configs" not in _channels(config, n) for n in ("oncall", "team", "escalation"))
    assert "nowhere.url is missing, empty or unreadable" in log
    assert "Slack off for #omie-plantao, #omie-alertas, #omie-escalacao" in log


def test_render_smtp_relay_with_password_file(stack_binaries: Path, tmp_path: Path) -> None:
    password = tmp_path / "smtp-password"
    password.write_text("s3nha-do-relay\n")
    out, log = _render(
        tmp_path,
        ALERTMANAGER_SMTP_SMARTHOST="smtp.example.com:587",
        ALERTMANAGER_SMTP_REQUIRE_TLS="true",
        ALERTMANAGER_SMTP_USERNAME="alertas@example.com",
        ALERTMANAGER_SMTP_PASSWORD_FILE=str(password),
        ALERTMANAGER_EMAIL_ONCALL="plantao@example.com, lider@example.com",
    )
    text = (out / "alertmanager.yml").read_text()
    assert "s3nha-do-relay" not in text
    config = yaml.safe_load(text)
    assert config["global"]["smtp_smarthost"] == "smtp.example.com:587"
    assert config["global"]["smtp_require_tls"] is True
    assert config["global"]["smtp_auth_username"] == "alertas@example.com"
    assert config["global"]["smtp_auth_password_file"] == str(password)
    assert _channels(config, "oncall")["email_configs"][0]["to"] == "plantao@example.com, lider@example.com"


def test_render_smtp_user_without_password_turns_email_off(stack_binaries: Path, tmp_path: Path) -> None:
    out, log = _render(tmp_path, ALERTMANAGER_SMTP_USERNAME="alertas@example.com")
    config = yaml.safe_load((out / "alertmanager.yml").read_text())
    assert all("email_configs" not in _channels(config, n) for n in ("oncall", "team", "escalation"))
    assert "smtp_auth_username" not in config["global"]
    assert "e-mail off: ALERTMANAGER_SMTP_USERNAME is set but no password" in log


def test_render_links_and_webhooks(stack_binaries: Path, tmp_path: Path) -> None:
    out, _ = _render(
        tmp_path,
        ALERTMANAGER_JAEGER_URL="https://jaeger.example.com",
        ALERTMANAGER_DASHBOARD_URL="https://painel.example.com/omie?x=1&y=2",
        ALERTMANAGER_WEBHOOK_URL="off",
        ALERTMANAGER_HISTORY_URL="http://logs.example.com:9428/insert/jsonline?_msg_field=commonAnnotations.summary",
    )
    templates = (out / "templates" / "omie.tmpl").read_text()
    assert '{{ define "omie.jaeger_url" }}https://jaeger.example.com{{ end }}' in templates
    assert '{{ define "omie.dashboard_url" }}https://painel.example.com/omie?x=1&y=2{{ end }}' in templates
    config = yaml.safe_load((out / "alertmanager.yml").read_text())
    assert all("webhook_configs" not in _channels(config, n) for n in ("oncall", "team", "escalation"))
    assert _channels(config, "history")["webhook_configs"][0]["url"] == (
        "http://logs.example.com:9428/insert/jsonline?_msg_field=commonAnnotations.summary"
    )
