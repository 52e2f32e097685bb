"""The SLA report's words in pt-BR (the default) and English (``LANG=en...``), for the report and its errors."""

from __future__ import annotations

from typing import Any

from omie_otel._lang import english

__all__ = ["t"]

_PT = {
    "title": "Relatório de SLA",
    "period": "Período",
    "last30": "últimos 30 dias",
    "partial": "mês em andamento: dados até {end}",
    "source": "Fonte",
    "source_detail": "regras de gravação SLO do omie-otel",
    "service": "Serviço",
    "slo": "SLO",
    "objective": "Objetivo",
    "measured": "Medido",
    "spent": "Orçamento gasto",
    "left": "Orçamento restante",
    "events": "Eventos (ruins)",
    "result": "Resultado",
    "met": "cumprido",
    "missed": "NÃO cumprido",
    "no_data": "sem dados",
    "no_data_all": "Sem dados: o Prometheus não tem séries das regras SLO {what} neste período.",
    "for_service": "para o serviço {service}",
    "for_any": "de nenhum serviço",
    "no_data_hint": "(Serviço sem tráfego, período fora da retenção do Prometheus, ou nome de serviço errado.)",
    "to": "a",
    "help": "Relatório de SLA de um mês do calendário (ou dos últimos 30 dias), das regras SLO do Prometheus.",
    "help_prometheus": "URL do Prometheus, ex.: http://127.0.0.1:9090 (padrão: $PROMETHEUS_URL)",
    "help_month": "mês do calendário AAAA-MM (padrão: os últimos 30 dias)",
    "help_service": "só este serviço (o label job = OTEL_SERVICE_NAME)",
    "help_format": "text (padrão), json ou md",
    "need_prometheus": "falta --prometheus URL (ou PROMETHEUS_URL), ex.: --prometheus http://127.0.0.1:9090",
    "bad_month": "--month {value!r} inválido: use AAAA-MM, por exemplo --month 2026-11",
    "future_month": "--month {value}: o mês ainda não começou (hoje é {today})",
    "unreachable": "não consegui consultar o Prometheus em {url}: {error}. Ele está rodando? (scripts/stack.sh status)",
    "bad_answer": "o Prometheus em {url} respondeu {what}: {detail}",
    "no_rules": (
        "o Prometheus em {url} não tem a regra {rule}: carregue collector-config/prometheus/rules/slo.rules.yml "
        "(rule_files em prometheus.yml) e recarregue (POST /-/reload)"
    ),
}
_EN = {
    "title": "SLA report",
    "period": "Period",
    "last30": "last 30 days",
    "partial": "month in progress: data up to {end}",
    "source": "Source",
    "source_detail": "omie-otel SLO recording rules",
    "service": "Service",
    "slo": "SLO",
    "objective": "Objective",
    "measured": "Measured",
    "spent": "Budget spent",
    "left": "Budget left",
    "events": "Events (bad)",
    "result": "Result",
    "met": "met",
    "missed": "MISSED",
    "no_data": "no data",
    "no_data_all": "No data: Prometheus has no series of the SLO rules {what} in this period.",
    "for_service": "for the service {service}",
    "for_any": "for any service",
    "no_data_hint": "(No traffic, a period beyond Prometheus's retention, or a wrong service name.)",
    "to": "to",
    "help": "SLA report of a calendar month (or the last 30 days) from the SLO recording rules in Prometheus.",
    "help_prometheus": "Prometheus base URL, e.g. http://127.0.0.1:9090 (default: $PROMETHEUS_URL)",
    "help_month": "calendar month YYYY-MM (default: the last 30 days)",
    "help_service": "only this service (the job label = OTEL_SERVICE_NAME)",
    "help_format": "text (default), json or md",
    "need_prometheus": "--prometheus URL is required (or set PROMETHEUS_URL), e.g. --prometheus http://127.0.0.1:9090",
    "bad_month": "--month {value!r} is not valid: use YYYY-MM, e.g. --month 2026-11",
    "future_month": "--month {value}: that month has not started yet (today is {today})",
    "unreachable": "cannot query Prometheus at {url}: {error}. Is it running? (scripts/stack.sh status)",
    "bad_answer": "Prometheus at {url} answered {what}: {detail}",
    "no_rules": (
        "Prometheus at {url} has no rule {rule}: load collector-config/prometheus/rules/slo.rules.yml "
        "(rule_files in prometheus.yml) and reload (POST /-/reload)"
    ),
}


def t(key: str, **kwargs: Any) -> str:
    """The message ``key`` in the user's language, formatted with ``kwargs``."""
    return (_EN if english() else _PT)[key].format(**kwargs)
