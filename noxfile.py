"""FastMCP compatibility: the MCP-facing tests on each supported FastMCP major, each in its own environment.

The newest FastMCP (4.x) runs in the main test environment (`make unit`); these sessions add 2.x and 3.x.
`make test` calls `nox -s compat`.
"""

import nox

nox.options.default_venv_backend = "uv"
nox.options.reuse_existing_virtualenvs = True

FASTMCP_LINES = {"2.14": "fastmcp>=2.14,<2.15", "3.4": "fastmcp>=3.4,<3.5", "4": "fastmcp>=4,<5"}
MCP_TESTS = [
    "tests/test_mcp.py",
    "tests/test_transports.py",
    "tests/test_logs.py",
    "tests/test_redaction.py",
    "tests/test_omie.py",
    "tests/test_health.py",
    "tests/test_ops_tools.py",
    "tests/test_self_telemetry.py",
    "tests/test_reinstrument.py",
    "tests/test_omie_malformed.py",
    "tests/test_conformance.py",
]


@nox.session(python="3.11", tags=["compat"])
@nox.parametrize("fastmcp", ["2.14", "3.4"])
def compat(session: nox.Session, fastmcp: str) -> None:
    session.install("-e", ".[test]", FASTMCP_LINES[fastmcp])
    session.run("python", "-c", "import fastmcp; print('FastMCP', fastmcp.__version__)")
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *MCP_TESTS, *session.posargs)
